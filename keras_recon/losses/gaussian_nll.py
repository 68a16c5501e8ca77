import math

import keras
from keras import ops

from keras_recon.losses._common import check_number
from keras_recon.losses._common import prepare

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def check_gamma(gamma):
    """A positive number, `"learned"`, `"computed"` or `"optimal"`."""
    modes = ("learned", "computed", "optimal")
    if isinstance(gamma, str) and gamma not in modes:
        raise ValueError(f"Argument `gamma` must be a positive number or one of {modes}. Received: gamma={gamma!r}")
    return gamma if isinstance(gamma, str) else check_number("gamma", gamma, positive=True)


def gamma_from_mse(mse):
    """`sqrt(mse)`, floored so that a perfect batch (MSE 0) leaves
    `log(gamma)` finite."""
    return ops.sqrt(ops.maximum(mse, 1e-12))


def rescaled_by_peak(residual):
    """The residual divided by its largest magnitude, and that factor's log.

    For a scale that is a statistic of the batch: the likelihood is
    unchanged by a common factor, but the mean square of huge residuals
    would overflow to inf and give inf / inf. The factor is a constant to
    the gradient, which is therefore exact.
    """
    peak = ops.stop_gradient(ops.max(ops.abs(residual)))
    peak = ops.where(peak > 0, peak, ops.ones_like(peak))
    return residual / peak, ops.log(peak)


def gaussian_nll(y_true, y_pred, *, gamma):
    """Gaussian negative log-likelihood per sample, summed over pixels.

    Formula:

    ```python
    nll = sum((y_pred - y_true)**2 / (2 gamma**2) + log(gamma) + log(2 pi) / 2)
    ```

    With `gamma="optimal"`, `gamma**2` is the batch's MSE, gradient
    included, which turns the loss into `D/2 log MSE` plus a constant.

    Example:

    >>> keras_recon.losses.gaussian_nll([[0.0, 1.0]], [[0.5, 0.0]], gamma=1.0)
    array([2.462877], dtype=float32)

    Args:
        y_true, y_pred: Targets and predictions, of one shape `(batch, ...)`.
        gamma: Positive standard deviation (a number or a scalar tensor),
            or `"optimal"`.

    Returns:
        One negative log-likelihood per sample, shape `(batch,)`.

    Reference:
        - [Asperti & Trentin, "Balancing reconstruction error and
          Kullback-Leibler divergence in Variational Autoencoders",
          2020](https://arxiv.org/abs/2002.07514), eq. 8.
    """
    y_true, y_pred, out_dtype = prepare(y_true, y_pred)
    residual, log_peak = y_pred - y_true, 0.0
    if isinstance(gamma, str):
        if gamma != "optimal":
            raise ValueError(f"gaussian_nll takes a number, a tensor or 'optimal' as gamma. Received: {gamma!r}")
        residual, log_peak = rescaled_by_peak(residual)
        gamma = gamma_from_mse(ops.mean(ops.square(residual)))
    count = math.prod(residual.shape[1:]) if len(residual.shape) > 1 else 1
    squared = ops.sum(ops.square(residual), axis=tuple(range(1, len(residual.shape))))
    nll = squared / (2.0 * ops.square(gamma)) + count * (ops.log(gamma) + log_peak + _HALF_LOG_2PI)
    return ops.cast(nll, out_dtype)


@keras.saving.register_keras_serializable(package="keras_recon")
class GaussianNLL(keras.losses.Loss):
    """The Gaussian decoder NLL (`gaussian_nll`) as a Keras loss, for `compile(loss=...)`.

    Gamma is fixed, learned, computed or optimal as in
    `keras_recon.likelihoods.Gaussian`. A Keras loss cannot own state (in a
    compiled JAX step a variable the model does not own is read as a
    constant), so a keras_recon model compiled with this loss makes (or
    keeps) a `Gaussian` layer of it as `likelihood` here: a learned or
    computed gamma is the model's variable, trained or balanced and saved
    with it. With any other model those two modes raise `ValueError`.

    Example:

    ```python
    vae = VAE(encoder, decoder)
    vae.compile(optimizer="adam", loss=GaussianNLL(gamma="computed"))
    vae.fit(x, epochs=...)    # the model adds GammaBalancer itself
    ```

    Args:
        gamma: A positive number, `"learned"`, `"computed"` or `"optimal"`.
            Defaults to `"learned"`.
        initial_scale: Starting gamma when learned. Defaults to `1.0`.
    """

    def __init__(self, gamma="learned", initial_scale=1.0, reduction="sum_over_batch_size",
                 name="gaussian_nll", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.gamma = check_gamma(gamma)
        self.initial_scale = check_number("initial_scale", initial_scale, positive=True)
        # The `Gaussian` layer of the model that owns this loss, if any.
        self.likelihood = None

    def call(self, y_true, y_pred):
        if self.likelihood is not None:
            return self.likelihood(y_true, y_pred)
        if self.gamma in ("learned", "computed"):
            raise ValueError(
                f"GaussianNLL(gamma={self.gamma!r}) keeps gamma as state, which only a "
                "keras_recon model (AE, VAE, WAE, TwoStageVAE) can own and update. Use one of "
                "those, pass `likelihood=Gaussian(...)` to it, or use a fixed or 'optimal' gamma."
            )
        y_true, y_pred = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
        return gaussian_nll(y_true, y_pred, gamma=self.gamma)

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, "initial_scale": self.initial_scale}
