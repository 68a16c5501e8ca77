import keras
from keras import ops

from keras_recon.models._base import ReconModel
from keras_recon.models._base import finish_total
from keras_recon.models._base import to_numpy


@keras.saving.register_keras_serializable(package="keras_recon")
class AE(ReconModel):
    """A deterministic autoencoder: `x_hat = decoder(encoder(x))`.

    The model of Haruguchi (and Beckham's "deterministic AE"). The objective
    is the reconstruction term alone (the compiled loss, or a likelihood
    layer); `fit` shows it as `reconstruction` beside the total `loss`.

    Example:

    ```python
    encoder, decoder = architectures.dense_autoencoder((784,), 32)
    ae = AE(encoder, decoder)
    ae.compile(optimizer="adam", loss=IDivergence(direction=2))
    ae.fit(x, epochs=50, batch_size=256)
    ```

    Args:
        encoder: Layer or model from inputs to codes `(batch, latent_dim)`.
        decoder: Layer or model from codes back to inputs.
        likelihood: Optional layer `likelihood(y, x_hat)` returning one NLL
            per sample; replaces the compiled loss. Defaults to `None`.
        reconstruction_weight: Multiplies the reconstruction term.
            Defaults to `1.0`.
    """

    def call(self, x, training=None):
        return self.decoder(self.encoder(x, training=training), training=training)

    def encode(self, x):
        """The codes of `x`, as a NumPy array."""
        return to_numpy(self._code(x))

    def _code(self, x):
        return self.encoder(ops.convert_to_tensor(x), training=False)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        y = x if y is None else y
        # Trackers weigh each batch by its size, as Keras's own loss tracker.
        batch = ops.shape(y)[0]
        reconstruction = self.reconstruction_loss(y, y_pred, sample_weight, training=training)
        self.reconstruction_tracker.update_state(reconstruction, sample_weight=batch)
        return finish_total(self, self.reconstruction_weight * reconstruction)
