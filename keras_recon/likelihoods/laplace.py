import math

import keras
from keras import ops

from keras_recon.likelihoods._scale import ScaledLikelihood
from keras_recon.likelihoods._scale import as_float32_pair
from keras_recon.likelihoods._scale import flatten_samples
from keras_recon.likelihoods._scale import pixel_count
from keras_recon.likelihoods._scale import residual_shape_sum
from keras_recon.losses.gaussian_nll import rescaled_by_peak


@keras.saving.register_keras_serializable(package="keras_recon")
class Laplace(ScaledLikelihood):
    """Laplace decoder likelihood with a fixed, learned, computed or optimal scale.

    Negative log-likelihood per sample, summed over pixels (Beckham):

    ```python
    nll = sum(|y_pred - y_true| / b + log(2 b))
    ```

    `b` takes the same modes as `Gaussian`'s gamma; the maximum-likelihood
    scale, used by the computed and optimal modes, is the mean absolute
    residual. Beckham argues for it: its gradient does not grow as the
    error shrinks, so it does not silently reweight the KL term.

    Example:

    ```python
    vae = VAE(encoder, decoder, likelihood=Laplace(b="learned"))
    vae.compile(optimizer="adam")
    ```

    Args:
        b: A positive number, or `"learned"`, `"computed"`, `"optimal"`.
        initial_scale: Starting `b` of the learned mode. Defaults to `1.0`.

    Reference:
        - Christopher Beckham, "A statistical introduction to Gaussian and
          Laplace autoencoders", blog post and GitHub repository, 2021.
    """

    scale_name = "b"

    def __init__(self, b="learned", initial_scale=1.0, **kwargs):
        super().__init__(b, initial_scale, **kwargs)

    @property
    def b(self):
        return self.scale

    def statistic(self, residual):
        return ops.mean(ops.abs(residual))

    def scale_from_statistic(self, statistic):
        # A perfect batch (MAE 0) would make log(b) infinite.
        return ops.maximum(statistic, 1e-6)

    def call(self, y_true, y_pred, training=False):
        y_true, y_pred = flatten_samples(*as_float32_pair(y_true, y_pred))
        residual, log_peak = y_pred - y_true, 0.0
        if self.mode == "optimal":
            residual, log_peak = rescaled_by_peak(residual)
        b = self.current_scale(residual)
        absolute = residual_shape_sum(ops.abs(residual))
        nll = absolute / b + pixel_count(residual) * (ops.log(b) + log_peak + math.log(2.0))
        self._update_running_statistic(y_true, y_pred, training)
        return nll
