import keras
import numpy as np

from keras_recon.callbacks import _model_access as access
from keras_recon.metrics.latent import inactive_latents
from keras_recon.metrics.latent import variance_law


class LatentStats(keras.callbacks.Callback):
    """Logs the variance law and the inactive-latent count each epoch.

    Writes `variance_law` (the mean over latents of `E[mu^2] + E[sigma^2]`,
    1 when the aggregate posterior matches the prior) and
    `inactive_latents` (latents with `E[sigma^2] >= threshold`) into `logs`,
    computed on held-out images (Asperti and Trentin, sections II-A and V).

    Args:
        images: Held-out inputs for the encoder.
        threshold: Inactivity threshold on the mean posterior variance.
            Defaults to `0.8`.
        encode_fn: `x -> (z_mean, z_log_var)`. Defaults to `None`: the
            model's `encode`.
    """

    def __init__(self, images, threshold=0.8, encode_fn=None):
        super().__init__()
        self.images = np.asarray(images, np.float32)
        self.threshold = threshold
        self.encode_fn = encode_fn

    def on_epoch_end(self, epoch, logs=None):
        z_mean, z_log_var = access.encode(self.model, self.images, self.encode_fn)
        _, overall = variance_law(z_mean, z_log_var)
        if logs is not None:
            logs["variance_law"] = overall
            logs["inactive_latents"] = float(inactive_latents(z_log_var, self.threshold))
