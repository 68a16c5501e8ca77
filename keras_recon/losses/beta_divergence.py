import math

import keras
from keras import ops

from keras_recon.losses._common import ReconstructionLoss
from keras_recon.losses._common import check_non_negative
from keras_recon.losses._common import check_positive
from keras_recon.losses._common import check_sample_reduction
from keras_recon.losses._common import prepare
from keras_recon.losses._common import reduce_per_sample
from keras_recon.losses.i_divergence import generalized_kl


def check_beta(beta):
    if isinstance(beta, bool) or not isinstance(beta, (int, float)):
        raise ValueError(f"Argument `beta` must be a real number. Received: beta={beta!r}")
    if not math.isfinite(beta):
        raise ValueError(f"Argument `beta` must be finite. Received: beta={beta!r}")
    return float(beta)


def _power_difference(y, x, x_pow, log_ratio, lam):
    """`(y**lam - x**lam) / lam`, tending to `log y - log x` as `lam -> 0`.

    Written as `x**lam * expm1(lam * (log y - log x)) / lam` (`x_pow` is
    `x**lam`, computed once by the caller), which keeps full relative
    precision for small `lam`, so the divergence is continuous in beta across
    0 and 1. For `lam > 0` a zero contributes exactly `0**lam = 0` rather
    than the floored `epsilon**lam`; `y**lam` is then `x_pow + x_pow * expm1`
    of the same product, so no further power is evaluated.
    """
    if lam == 0.0:
        return log_ratio
    scaled = x_pow * ops.expm1(lam * log_ratio)
    difference = scaled / lam
    if lam > 0.0:
        zero = ops.zeros_like(x_pow)
        y_pow = ops.where(y > 0, x_pow + scaled, zero)
        direct = (y_pow - ops.where(x > 0, x_pow, zero)) / lam
        difference = ops.where(ops.logical_and(y > 0, x > 0), difference, direct)
    return difference


def beta_divergence(
    y_true, y_pred, *, beta=2.0, epsilon=1e-7, sample_reduction="sum"
):
    """Beta-divergence `d_beta(y_true | y_pred)` per sample.

    Formula, with `y = y_true` and `x = y_pred`:

    ```python
    d = sum(y**beta / (beta * (beta - 1)) + x**beta / beta
            - y * x**(beta - 1) / (beta - 1))
    ```

    and by continuity `beta = 2`: half the squared error; `beta = 1`: the
    I-divergence `y log(y/x) - y + x`; `beta = 0`: Itakura-Saito
    `y/x - log(y/x) - 1`. (The paper prints the last sign of its eq. 29 as
    `+`; the limits it derives need `-`, which is used here.)

    The general case is computed as `y * P(beta - 1) - P(beta)` with
    `P(l) = (y**l - x**l) / l` evaluated through `expm1`, so the value is
    continuous across `beta = 0` and `beta = 1`. Inputs must be
    non-negative; powers and logs read `max(value, epsilon)`, so value and
    gradient stay finite at zeros (for `beta <= 0` a zero is a pole of the
    divergence and the floor bounds it). Negative inputs raise `ValueError`
    when eager, as for `i_divergence`.

    Example:

    >>> y_true = [[0.2, 0.5, 1.0]]
    >>> y_pred = [[0.1, 0.5, 0.8]]
    >>> keras_recon.losses.beta_divergence(y_true, y_pred, beta=2.0)
    array([0.025], dtype=float32)

    Args:
        y_true: Non-negative targets, shape `(batch, d0, ..., dN)`.
        y_pred: Non-negative predictions, the same shape as `y_true`.
        beta: Any finite real. Defaults to `2.0`.
        epsilon: Positive floor inside logarithms and negative powers.
            Defaults to `1e-7`.
        sample_reduction: `"sum"` or `"mean"` over each sample's non-batch
            axes. Defaults to `"sum"`.

    Returns:
        One loss value per sample, shape `(batch,)`.

    Reference:
        - [Yabe, "Autoencoder with I-divergence as loss function",
          2019](https://arxiv.org/abs/1901.01868), fig. 1 and eq. 29.
        - [Fevotte & Idier, "Algorithms for nonnegative matrix factorization
          with the beta-divergence", 2011](https://arxiv.org/abs/1010.1763).
    """
    beta = check_beta(beta)
    epsilon = check_positive("epsilon", epsilon)
    check_sample_reduction(sample_reduction)
    y_true, y_pred, out_dtype = prepare(y_true, y_pred)
    peak = check_non_negative(y_true, y_pred)
    if peak is not None and beta > 1.0 and beta != 2.0:
        _check_no_overflow(peak, beta)
    if beta == 2.0:
        values = 0.5 * ops.square(y_pred - y_true)
    elif beta == 1.0:
        values = generalized_kl(y_true, y_pred, epsilon)
    else:
        if beta > 1.0:
            # Past this bound the powers overflow float32 (eager inputs that
            # large were refused above; traced ones are clipped to it so the
            # value stays finite rather than inf - inf).
            bound = math.exp(math.log(1e37) / beta)
            y_true, y_pred = ops.minimum(y_true, bound), ops.minimum(y_pred, bound)
        values = _general_divergence(beta, epsilon)(y_true, y_pred)
    return reduce_per_sample(values, sample_reduction, out_dtype)


def _general_divergence(beta, epsilon):
    """`(y, x) -> d_beta(y | x)` elementwise, with its gradient written out.

    The value is `y * P(beta - 1) - P(beta)` (see `_power_difference`). Its
    gradient is short: `x**(beta - 2) * (x - y)` in `x` and `P(beta - 1)`
    in `y`, which the forward pass has already computed. Differentiating the
    expm1 form instead costs about twice the forward again (measured 5.5x
    the squared error under `jax.jit`; see `benchmarks/results/`). Below the
    floor `epsilon` the value does not depend on `x`, so neither does the
    gradient there, as autodiff of the floored form would give.
    """

    @ops.custom_gradient
    def divergence(y, x):
        floored_x = ops.maximum(x, epsilon)
        log_x = ops.log(floored_x)
        log_ratio = ops.log(ops.maximum(y, epsilon)) - log_x
        # One power serves both terms and the gradient:
        # x**beta = x**(beta - 1) * x and x**(beta - 2) = x**(beta - 1) / x.
        x_pow = ops.exp((beta - 1.0) * log_x)
        lower = _power_difference(y, x, x_pow, log_ratio, beta - 1.0)
        value = y * lower - _power_difference(y, x, x_pow * floored_x, log_ratio, beta)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            slope = ops.where(x > epsilon, x_pow * (x - y) / floored_x, 0.0)
            return upstream * lower, upstream * slope

        return value, grad

    return divergence


def _check_no_overflow(peak, beta):
    # For beta > 1 the terms y**beta / (beta (beta - 1)) and y x**(beta - 1) /
    # (beta - 1) are each of size max**beta; past float32's range they are
    # inf and their difference NaN. Refuse such inputs when eager (traced
    # inputs cannot be inspected).
    if beta * math.log(max(peak, 1e-300)) > math.log(1e37):
        raise ValueError(
            f"beta_divergence with beta={beta}: inputs as large as {peak:.3g} overflow float32 "
            f"(peak**beta > 1e37); rescale the data (e.g. to [0, 1])."
        )


@keras.saving.register_keras_serializable(package="keras_recon")
class BetaDivergence(ReconstructionLoss):
    """Beta-divergence reconstruction loss `d_beta(y_true | y_pred)`.

    Formula, with `y = y_true` and `x = y_pred`:

    ```python
    d = sum(y**beta / (beta * (beta - 1)) + x**beta / beta
            - y * x**(beta - 1) / (beta - 1))
    ```

    The family joins the squared error (`beta=2`, half of it), the
    I-divergence (`beta=1`, equal to `IDivergence(direction=2)`) and
    Itakura-Saito (`beta=0`), continuously in beta. See `beta_divergence`
    for the numerics at zeros.

    Example:

    >>> loss = keras_recon.losses.BetaDivergence(beta=0.5)
    >>> loss([[0.2, 0.5, 1.0]], [[0.1, 0.5, 0.8]])
    0.13343455

    Args:
        beta: Any finite real. Defaults to `2.0`.
        epsilon: Positive floor inside logarithms and negative powers.
            Defaults to `1e-7`.
        sample_reduction: `"sum"` (the papers) or `"mean"` of the errors
            over each sample's non-batch axes. Defaults to `"sum"`.
        reduction: Keras reduction over the batch. Defaults to
            `"sum_over_batch_size"`.
        name: Name of the loss instance. Defaults to `"beta_divergence"`.
        dtype: Dtype of the loss's computations. Defaults to `None`, which
            means `keras.backend.floatx()`.

    Reference:
        - [Yabe, "Autoencoder with I-divergence as loss function",
          2019](https://arxiv.org/abs/1901.01868), fig. 1 and eq. 29.
    """

    fn = staticmethod(beta_divergence)
    _hyperparameters = ("beta", "epsilon")

    def __init__(
        self,
        beta=2.0,
        epsilon=1e-7,
        sample_reduction="sum",
        reduction="sum_over_batch_size",
        name="beta_divergence",
        dtype=None,
    ):
        super().__init__(sample_reduction, reduction, name, dtype)
        self.beta = check_beta(beta)
        self.epsilon = check_positive("epsilon", epsilon)
