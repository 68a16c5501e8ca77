import keras
from keras import ops

from keras_recon.likelihoods._scale import ScaledLikelihood
from keras_recon.likelihoods._scale import as_float32_pair
from keras_recon.losses.gaussian_nll import gamma_from_mse
from keras_recon.losses.gaussian_nll import gaussian_nll


@keras.saving.register_keras_serializable(package="keras_recon")
class Gaussian(ScaledLikelihood):
    """Gaussian decoder likelihood with a fixed, learned, computed or optimal gamma.

    Negative log-likelihood per sample, summed over pixels (Asperti and Trentin, eq. 8):

    ```python
    nll = sum((y_pred - y_true)**2 / (2 gamma**2) + log(gamma) + log(2 pi) / 2)
    ```

    `gamma` chooses how the standard deviation is set:

    - a number: fixed (`1 / sqrt(2)` gives the plain summed squared error
      plus a constant);
    - `"learned"`: `log gamma` is trained with the model (Dai & Wipf 2019);
    - `"computed"`: `gamma**2` is the running minimum-smoothed minibatch MSE
      (Asperti and Trentin, section III), updated by every training step
      and never trained; `callbacks.GammaBalancer` sets its decay and
      records it, and keras_recon models add that callback to `fit`
      themselves;
    - `"optimal"`: `gamma**2` is the current minibatch MSE, gradient
      included, which turns the loss into `D/2 log MSE` (Beckham).

    With the VAE's KL summed over latents and this NLL summed over pixels,
    the balance depends on both sizes: Asperti and Trentin multiply the KL by 4 when
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

    def scale_from_statistic(self, statistic):
        return gamma_from_mse(statistic)

    def call(self, y_true, y_pred, training=False):
        y_true, y_pred = as_float32_pair(y_true, y_pred)
        gamma = "optimal" if self.mode == "optimal" else self.current_scale()
        nll = gaussian_nll(y_true, y_pred, gamma=gamma)
        self._update_running_statistic(y_true, y_pred, training)
        return nll
