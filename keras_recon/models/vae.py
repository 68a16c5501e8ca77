import keras
from keras import ops

from keras_recon.models._base import ReconModel
from keras_recon.models._base import finish_total
from keras_recon.models._base import kl_to_standard_normal
from keras_recon.models._base import to_numpy
from keras_recon.models._base import weighted_batch_mean


def split_gaussian(encoded):
    """`(z_mean, z_log_var)` from an encoder's output: two tensors, or one
    tensor of size `2 * latent_dim` split in halves."""
    if isinstance(encoded, (list, tuple)):
        if len(encoded) != 2:
            raise ValueError(f"A Gaussian encoder returns (z_mean, z_log_var); got {len(encoded)} outputs")
        return encoded[0], encoded[1]
    size = encoded.shape[-1]
    if size is None or size % 2:
        raise ValueError(
            "A Gaussian encoder returns 2 * latent_dim values (means, then "
            f"log-variances); received last dimension {size}"
        )
    return encoded[..., : size // 2], encoded[..., size // 2 :]


@keras.saving.register_keras_serializable(package="keras_recon")
class VAE(ReconModel):
    """Variational autoencoder with a Gaussian encoder and a N(0, I) prior.

    Objective per sample (Chen et al. appendix A.1, Asperti and Trentin eq. 1):

    ```python
    z = z_mean + exp(z_log_var / 2) * eps               # reparameterised
    loss = reconstruction_weight * recon(x, decoder(z)) + beta * KL(q(z|x) || N(0, I))
    ```

    The reconstruction term is the compiled loss (`compile(loss=LogCosh(a=100))`,
    summed over pixels by default, as the papers) or a likelihood layer; the
    KL is analytic and summed over latents. `fit` tracks `reconstruction`,
    `kl` and the total `loss`.

    The forward pass returns a dict `{"reconstruction", "z_mean", "z_log_var",
    "z"}` with a sampled `z`, so `evaluate` reports the ELBO's one-sample
    estimate; `reconstruct` decodes the posterior mean and is repeatable.

    Example:

    ```python
    encoder, decoder = architectures.mlp((28, 28, 1), latent_dim=8)
    vae = VAE(encoder, decoder)
    vae.compile(optimizer="adam", loss=LogCosh(a=100))
    vae.fit(x_train, epochs=40, batch_size=100)
    samples = vae.sample(64, seed=0)
    ```

    Args:
        encoder: Model from inputs to `2 * latent_dim` values (means then
            log-variances) or to a pair `(z_mean, z_log_var)`.
        decoder: Model from `(batch, latent_dim)` codes to inputs.
        beta: Weight of the KL term (beta / lambda). Defaults to `1.0`.
        likelihood: Optional layer `likelihood(y, x_hat)` returning one NLL
            per sample; replaces the compiled loss. Defaults to `None`.
        reconstruction_weight: Multiplies the reconstruction term (seed
            000's lambda). Defaults to `1.0`.
        seed: Seed of the reparameterisation noise. Defaults to `None`.
    """

    def __init__(self, encoder, decoder, beta=1.0, likelihood=None,
                 reconstruction_weight=1.0, seed=None, **kwargs):
        super().__init__(encoder, decoder, likelihood, reconstruction_weight, **kwargs)
        if beta < 0:
            raise ValueError(f"Argument `beta` must be non-negative. Received: beta={beta}")
        self.beta = float(beta)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def call(self, x, training=None):
        z_mean, z_log_var = split_gaussian(self.encoder(x, training=training))
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator, dtype=z_mean.dtype)
        z = z_mean + ops.exp(0.5 * z_log_var) * eps
        return {
            "reconstruction": self.decoder(z, training=training),
            "z_mean": z_mean,
            "z_log_var": z_log_var,
            "z": z,
        }

    def objective(self, y, y_pred, sample_weight=None, loss=None, training=False):
        """The terms of the objective: `{"loss", "reconstruction", "kl"}`."""
        reconstruction = self.reconstruction_loss(y, y_pred["reconstruction"], sample_weight, loss, training)
        # In float32 under mixed precision: exp(log_var) overflows float16.
        kl = weighted_batch_mean(
            kl_to_standard_normal(ops.cast(y_pred["z_mean"], "float32"), ops.cast(y_pred["z_log_var"], "float32")),
            sample_weight,
        )
        total = self.reconstruction_weight * reconstruction + self.beta * kl
        return {"loss": total, "reconstruction": reconstruction, "kl": kl}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        y = x if y is None else y
        terms = self.objective(y, y_pred, sample_weight, training=training)
        # Trackers weigh each batch by its size, as Keras's own loss tracker.
        batch = ops.shape(y)[0]
        self.reconstruction_tracker.update_state(terms["reconstruction"], sample_weight=batch)
        self.kl_tracker.update_state(terms["kl"], sample_weight=batch)
        total = terms["loss"]
        return finish_total(self, total)

    @property
    def latent_dim(self):
        return self.decoder.inputs[0].shape[-1]

    def encode(self, x):
        """The posterior `(z_mean, z_log_var)` of `x`, as NumPy arrays."""
        return to_numpy(self._posterior(x))

    def _posterior(self, x):
        return split_gaussian(self.encoder(ops.convert_to_tensor(x), training=False))

    def _code(self, x):
        return self._posterior(x)[0]

    def sample(self, n, seed=None):
        """Decodes `n` codes drawn from the N(0, I) prior (a NumPy array)."""
        return self.decode(keras.random.normal((int(n), self.latent_dim), seed=seed))

    def negative_elbo(self, x, samples=1, seed=None):
        """Per-image negative ELBO in nats: an upper bound on `-log p(x)`.

        `NLL(x | decoder(z)) + KL(q(z|x) || N(0, I))`, averaged over
        `samples` draws of `z ~ q(z|x)`, as a NumPy array of shape `(batch,)`.
        Needs a likelihood layer (a normalised density); a reconstruction
        loss such as `LogCosh` is not one. Divide by `h * w * c * log 2` (`metrics.bits_per_dim`) for bits
        per dimension.
        """
        if self.likelihood is None:
            raise ValueError(
                "negative_elbo needs a likelihood layer (e.g. likelihood=Gaussian(...)); "
                "a reconstruction loss is not a normalised density."
            )
        if samples < 1:
            raise ValueError(f"Argument `samples` must be at least 1. Received: samples={samples}")
        x = ops.convert_to_tensor(x)
        z_mean, z_log_var = self._posterior(x)
        total = kl_to_standard_normal(z_mean, z_log_var)
        for i in range(samples):
            eps = keras.random.normal(ops.shape(z_mean), seed=None if seed is None else seed + i)
            z = z_mean + ops.exp(0.5 * z_log_var) * eps
            total = total + self.likelihood(x, self._decode(z)) / samples
        return to_numpy(total)

    def get_config(self):
        config = super().get_config()
        config.update(beta=self.beta, seed=self.seed)
        return config
