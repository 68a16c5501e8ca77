import keras
import numpy as np
from keras import ops

from keras_recon.models._base import LikelihoodOwner
from keras_recon.models._base import finish_total
from keras_recon.models.vae import VAE


@keras.saving.register_keras_serializable(package="keras_recon")
class TwoStageVAE(LikelihoodOwner, keras.Model):
    """Two-stage VAE: a second VAE learns the first stage's code distribution.

    The first stage is an ordinary `VAE` on the data. Its aggregate
    posterior rarely matches N(0, I) (Asperti and Trentin find the variance law far
    from 1 on CelebA), so sampling its prior gives poor images. The second
    stage is a small VAE fitted on the first stage's codes `z ~ q(z|x)`;
    sampling draws `u ~ N(0, I)`, decodes it to a code `z` with the second
    stage, and `z` to an image with the first (Dai & Wipf 2019; Asperti and Trentin
    section IV).

    Example:

    ```python
    two = TwoStageVAE(first_stage_vae, second_stage_vae)
    two.first.compile(optimizer="adam"); two.first.fit(x, epochs=...)
    two.fit_second_stage(x, epochs=..., batch_size=100)
    images = two.sample(64, seed=0)
    ```

    Args:
        first: The image VAE.
        second: A VAE whose inputs are first-stage codes
            `(batch, first.latent_dim)`; `architectures.second_stage`
            builds Dai & Wipf's dense one. Compile it before
            `fit_second_stage`, or it is compiled with Adam and the squared
            error.
    """

    def __init__(self, first, second, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(first, VAE) or not isinstance(second, VAE):
            raise ValueError("`first` and `second` must both be keras_recon.models.VAE")
        self.first = first
        self.second = second
        # `fit` trains the first stage only; `fit_second_stage` flips this.
        self.second.trainable = False
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def _likelihood_owner(self):
        return self.first

    def build(self, input_shape):
        # Both stages own variables; create them so saving and `summary` work.
        self.first(ops.zeros((1,) + tuple(input_shape[1:])))
        self.second(ops.zeros((1, self.first.latent_dim)))

    def call(self, x, training=None):
        return self.first(x, training=training)

    @property
    def metrics(self):
        # Keras leaves out the metrics of a sublayer that is a model of its
        # own; `fit` trains the first stage here, so its likelihood's scale
        # is reported here.
        likelihood = self.first.likelihood
        return super().metrics + (likelihood.metrics if likelihood is not None else [])

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """`fit` trains the first stage with this model's compiled loss."""
        y = x if y is None else y
        terms = self.first.objective(y, y_pred, sample_weight, loss=self.loss, training=training)
        batch = ops.shape(y)[0]
        self.reconstruction_tracker.update_state(terms["reconstruction"], sample_weight=batch)
        self.kl_tracker.update_state(terms["kl"], sample_weight=batch)
        total = terms["loss"]
        return finish_total(self, total)

    def first_stage_codes(self, x, batch_size=500, seed=None):
        """Samples `z ~ q(z|x)` for every `x`, as the second stage's data."""
        x = np.asarray(x)
        codes = []
        for i in range(0, len(x), batch_size):
            z_mean, z_log_var = self.first.encode(x[i : i + batch_size])
            eps = keras.random.normal(z_mean.shape, seed=None if seed is None else seed + i)
            codes.append(z_mean + np.exp(0.5 * z_log_var) * ops.convert_to_numpy(eps))
        return np.concatenate(codes)

    def fit_second_stage(self, x, seed=None, **fit_kwargs):
        """Fits the second stage on the first stage's codes of `x`."""
        if not self.second.compiled:
            self.second.compile(optimizer="adam")
        codes = self.first_stage_codes(x, seed=seed)
        self.second.trainable = True
        try:
            return self.second.fit(codes, **fit_kwargs)
        finally:
            self.second.trainable = False

    def encode(self, x):
        return self.first.encode(x)

    def decode(self, z):
        return self.first.decode(z)

    def reconstruct(self, x, batch_size=None):
        return self.first.reconstruct(x, batch_size=batch_size)

    def interpolate(self, x1, x2, steps=10):
        return self.first.interpolate(x1, x2, steps)

    def sample(self, n, seed=None):
        """Images through both stages: `u ~ N(0, I)` -> code -> image."""
        return self.first.decode(self.second.sample(n, seed=seed))

    def get_config(self):
        config = super().get_config()
        config.update(
            first=keras.saving.serialize_keras_object(self.first),
            second=keras.saving.serialize_keras_object(self.second),
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["first"] = keras.saving.deserialize_keras_object(config["first"])
        config["second"] = keras.saving.deserialize_keras_object(config["second"])
        return cls(**config)
