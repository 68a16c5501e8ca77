import math

import keras
from keras import ops

from keras_recon.likelihoods._scale import ScaledLikelihood
from keras_recon.likelihoods._scale import pixel_count
from keras_recon.likelihoods._scale import residual_shape_sum

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


@keras.saving.register_keras_serializable(package="keras_recon")
class Gaussian(ScaledLikelihood):
    """Gaussian decoder likelihood with a fixed, learned, computed or optimal gamma.

    Negative log-likelihood per sample, summed over pixels (seed 003 eq. 8):

    ```python
    nll = sum((y_pred - y_true)**2 / (2 gamma**2) + log(gamma) + log(2 pi) / 2)
    ```

    `gamma` chooses how the standard deviation is set:

    - a number: fixed (`1 / sqrt(2)` gives the plain summed squared error
      plus a constant);
    - `"learned"`: `log gamma` is trained with the model (Dai & Wipf 2019);
    - `"computed"`: `gamma**2` is the running minimum-smoothed minibatch MSE
      maintained by `callbacks.GammaBalancer` (seed 003 section III), never
      trained; keras_recon models add the callback to `fit` themselves;
    - `"optimal"`: `gamma**2` is the current minibatch MSE, gradient
      included, which turns the loss into `D/2 log MSE` (seed 001).

    With the VAE's KL summed over latents and this NLL summed over pixels,
    the balance depends on both sizes: seed 003 multiplies the KL by 4 when
    going from 32x32 CIFAR-10 to 64x64 CelebA with the same 64 latents (use
    `VAE(beta=4.0)` there).

    Example:

    ```python
    vae = VAE(encoder, decoder, likelihood=Gaussian(gamma="computed"))
    vae.compile(optimizer="adam")
    vae.fit(x, epochs=...)          # gamma follows the running MSE
    ```

    Args:
        gamma: A positive number, or `"learned"`, `"computed"`, `"optimal"`.
        initial_scale: Starting gamma of the learned mode. Defaults to `1.0`.

    Reference:
        - [Dai & Wipf, "Diagnosing and Enhancing VAE Models", ICLR
          2019](https://arxiv.org/abs/1903.05789);
        - [Asperti & Trentin, "Balancing reconstruction error and
          Kullback-Leibler divergence in Variational Autoencoders",
          2020](https://arxiv.org/abs/2002.07514).
    """

    scale_name = "gamma"

    def __init__(self, gamma="learned", initial_scale=1.0, **kwargs):
        super().__init__(gamma, initial_scale, **kwargs)

    @property
    def gamma(self):
        """The gamma in use now, a scalar tensor (the `"optimal"` mode has
        none outside a batch: it is that batch's root-MSE)."""
        if self.mode == "optimal":
            raise ValueError("gamma='optimal' is computed per minibatch; there is no current value")
        return self.current_scale()

    def statistic(self, residual):
        return ops.mean(ops.square(residual))

    def scale_from_statistic(self, statistic, xp=ops):
        # A perfect batch (MSE 0) would make log(gamma) infinite.
        return xp.sqrt(xp.maximum(statistic, 1e-12))

    def call(self, y_true, y_pred):
        residual, log_peak = self._rescaled(self._prepare(y_true, y_pred))
        gamma = self.current_scale(residual)
        squared = residual_shape_sum(ops.square(residual))
        count = pixel_count(residual)
        return squared / (2.0 * ops.square(gamma)) + count * (ops.log(gamma) + log_peak + _HALF_LOG_2PI)
