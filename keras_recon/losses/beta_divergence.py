import math

import keras
from keras import ops

from keras_recon.losses._common import ReconstructionLoss
from keras_recon.losses._common import check_positive
from keras_recon.losses._common import check_sample_reduction
from keras_recon.losses._common import non_negative_extremes
from keras_recon.losses._common import per_sample_upstream
from keras_recon.losses._common import prepare
from keras_recon.losses._common import reduce_per_sample
from keras_recon.losses._common import tensorflow_eager
from keras_recon.losses._common import torch_eager_target_is_constant
from keras_recon.losses._common import torch_per_sample
from keras_recon.losses._common import xla_kernel
from keras_recon.losses.i_divergence import generalized_kl
from keras_recon.losses.i_divergence import torch_kl_per_sample


def check_beta(beta):
    if isinstance(beta, bool) or not isinstance(beta, (int, float)):
        raise ValueError(f"Argument `beta` must be a real number. Received: beta={beta!r}")
    if not math.isfinite(beta):
        raise ValueError(f"Argument `beta` must be finite. Received: beta={beta!r}")
    return float(beta)


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

    `beta = 0.5` is computed in closed form, `2 (sqrt(y) - sqrt(x))**2 /
    sqrt(x)` (two square roots instead of four logarithms and
    exponentials; the roots' difference taken without cancellation). The
    general case uses the divergence's homogeneity,
    `d(y | x) = x**beta d(y/x | 1)`, with the part that vanishes at
    `y = x` evaluated through `expm1` (see `_ratio_numerator`), so the value
    is continuous across `beta = 0` and `beta = 1`. Inputs must be
    non-negative. `y_pred` is read as `max(y_pred, epsilon)` (and `y_true`
    too when `beta <= 0`, where a zero is a pole of the divergence), so
    value and gradient stay finite at zeros; for `beta > 0` a zero `y_true`
    is exact (`d(0 | x) = x**beta / beta`). Negative inputs raise
    `ValueError` when eager, as for `i_divergence`.

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
    extremes = non_negative_extremes(y_true, y_pred)
    if extremes is not None and beta > 1.0 and beta != 2.0:
        _check_no_overflow(extremes[2], beta)
    if beta == 2.0:
        return reduce_per_sample(0.5 * ops.square(y_pred - y_true), sample_reduction, out_dtype)
    if extremes is not None and torch_eager_target_is_constant(y_true):
        any_floored = extremes[1] <= epsilon
        if beta == 1.0:
            values = torch_kl_per_sample(y_true, y_pred, 2, epsilon, sample_reduction, any_floored)
        else:
            values = _torch_per_sample(
                y_true, y_pred, beta, epsilon, sample_reduction, any_floored, extremes[1] == 0,
                _ratio_may_overflow(extremes, epsilon),
            )
        return ops.cast(values, out_dtype)
    x_may_be_zero = extremes is None or extremes[1] == 0
    may_overflow = extremes is None or _ratio_may_overflow(extremes, epsilon)
    clip = beta > 1.0 and extremes is None

    def kernel(y_true, y_pred):
        if beta == 1.0:
            values = generalized_kl(y_true, y_pred, epsilon)
        else:
            if clip:
                # Past this bound the powers overflow float32 (eager inputs
                # that large were refused above; traced ones are clipped to
                # it so the value stays finite rather than inf - inf).
                bound = math.exp(math.log(1e37) / beta)
                y_true, y_pred = ops.minimum(y_true, bound), ops.minimum(y_pred, bound)
            values = _general_divergence(beta, epsilon, x_may_be_zero, may_overflow)(y_true, y_pred)
        return reduce_per_sample(values, sample_reduction, out_dtype)

    if tensorflow_eager(y_pred):
        key = ("beta_divergence", beta, epsilon, x_may_be_zero, may_overflow, sample_reduction, out_dtype)
        return xla_kernel(key, kernel, y_true, y_pred)
    return kernel(y_true, y_pred)


def _ratio_may_overflow(extremes, epsilon):
    """Whether `y_true / max(y_pred, epsilon)` can exceed float32's range,
    from the input check's extremes."""
    return extremes[2] / max(extremes[1], epsilon) > 1e38


def _ratio_numerator(r, beta):
    """`r**beta - beta r + beta - 1`, the numerator of `d_beta(r | 1)`.

    It vanishes to second order at `r = 1` and, divided by
    `beta (beta - 1)`, has finite limits at `beta = 0` and `1`; so the power
    whose exponent is nearer 0 goes through `expm1`, which keeps full
    relative precision there: `expm1(beta log r) - beta (r - 1)` or
    `r expm1((beta - 1) log r) - (beta - 1)(r - 1)`. `r = 0` (a zero
    `y_true`, beta > 0) gives exactly `beta - 1`.
    """
    log_r = ops.log(r)
    if abs(beta - 1.0) < abs(beta):
        lam = beta - 1.0
        if lam < 0:
            # r = 0 would make expm1 infinite and r * expm1 NaN; any
            # log r below -87 gives r * expm1(...) = 0 to float32 anyway.
            log_r = ops.maximum(log_r, -87.0)
        return r * ops.expm1(lam * log_r) - lam * (r - 1.0)
    return ops.expm1(beta * log_r) - beta * (r - 1.0)


def _general_divergence(beta, epsilon, x_may_be_zero, may_overflow):
    """`(y, x) -> d_beta(y | x)` elementwise, with its gradient written out.

    The divergence is homogeneous of degree beta:
    `d(y | x) = x**beta d(y/x | 1) = x**beta N(r) / (beta (beta - 1))`,
    `r = y / x`, `N` from `_ratio_numerator`. That costs one ratio, one
    logarithm, one `expm1` and one power of `x` (four transcendental
    functions; the two-power form before took five). The gradient is short:
    `x**(beta - 1) (1 - r)` in `x` (zero below the floor, where the value
    does not depend on `x`) and `x**(beta - 1) expm1((beta - 1) log r) /
    (beta - 1)` in `y`, computed only when asked for. `x` is read as
    `max(x, epsilon)`, and for beta <= 0 `y` as well (a zero is a pole
    there). For beta > 0 a zero `x` is exact in the powers that stay
    finite, as in the direct formula: `d(y | 0)` is `y**beta / (beta
    (beta - 1))`, less `y epsilon**(beta - 1) / (beta - 1)` for beta < 1,
    and `d(0 | 0) = 0` (`_value_at_zero_x`; `x_may_be_zero` is False when
    the input check found no zero, which saves the selection). Where
    `y / max(x, epsilon)` overflows float32 the value is `+inf` (the
    limit of every form; `may_overflow` is False when the input check
    rules it out).
    """
    lam = beta - 1.0

    @ops.custom_gradient
    def divergence(y, x):
        floored_x = ops.maximum(x, epsilon)
        ratio = (y if beta > 0 else ops.maximum(y, epsilon)) / floored_x
        if beta == 0.5:
            # d = 2 (sqrt(y) - sqrt(x))**2 / sqrt(x): two square roots in
            # place of four logarithms and exponentials, with the
            # difference of the roots taken as (y - x) / (sqrt(y) +
            # sqrt(x)), which does not cancel where y is near x.
            x_lower = ops.rsqrt(floored_x)
            value = 2.0 * ops.square((y - floored_x) / (ops.sqrt(y) + ops.sqrt(floored_x))) * x_lower
        else:
            # exp(lam log x), not ops.power: under jax.jit on CPU the kernel
            # took 2.6x the squared error with ops.power and 1.3x with this.
            x_lower = ops.exp(lam * ops.log(floored_x))
            if beta == 0.0:  # Itakura-Saito: r - 1 - log r
                value = ratio - 1.0 - ops.log(ratio)
            else:
                value = x_lower * floored_x * _ratio_numerator(ratio, beta) / (beta * lam)
        if may_overflow:
            value = ops.where(ops.isinf(ratio), math.inf, value)
        if beta > 0 and x_may_be_zero:
            value = ops.where(x > 0, value, _value_at_zero_x(value, y, beta, epsilon))

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            slope = ops.where(x > epsilon, x_lower * (1.0 - ratio), 0.0)
            dy = x_lower * ops.expm1(lam * ops.log(ops.maximum(y, epsilon) / floored_x)) / lam
            return upstream * dy, upstream * slope

        return value, grad

    return divergence


def _value_at_zero_x(value, y, beta, epsilon):
    """The divergence at `x = 0` (beta > 0) from its value at `x = epsilon`
    (`value`): `d(y | epsilon) - epsilon**beta / beta`, plus
    `y epsilon**(beta - 1) / (beta - 1)` for beta > 1, and exactly 0 at
    `y = 0`."""
    shifted = value - epsilon**beta / beta
    if beta > 1.0:
        shifted = shifted + y * (epsilon ** (beta - 1.0) / (beta - 1.0))
    return ops.where(y > 0, shifted, 0.0)


def _torch_per_sample(
    y_true, y_pred, beta, epsilon, sample_reduction, any_floored, x_has_zero, may_overflow
):
    """`d_beta` reduced per sample on eager PyTorch, differentiated in `y_pred`.

    The same homogeneous form as `_general_divergence`, with the buffers
    reused in place (at beta = 0.5, `_torch_half_per_sample`). Away from
    beta = 0 and 1 (`|beta|` and `|beta - 1|` both at least 1/4) the
    numerator is taken as `r**beta - beta r + beta - 1` with one power
    instead of a log and an `expm1` (the value's absolute error per element
    is then about float32's epsilon times `x**beta`); near them the `expm1`
    form keeps the limits. Both powers are `_torch_power`'s
    `exp(p log(b))`. `any_floored`
    (from the input check) says whether any `y_pred <= epsilon` needs the
    gradient's mask, `x_has_zero` whether any `y_pred` is exactly 0, whose
    elements then get the value of `_value_at_zero_x`, `may_overflow`
    whether the ratio can overflow (its elements are then `+inf`).
    """
    import torch

    if beta == 0.5:
        return _torch_half_per_sample(
            y_true, y_pred, epsilon, sample_reduction, any_floored, x_has_zero, may_overflow
        )
    lam = beta - 1.0
    per_sample = torch_per_sample(sample_reduction, y_pred.ndim)

    @ops.custom_gradient
    def divergence(x):
        floored_x = torch.clamp(x, min=epsilon)
        y = y_true if beta > 0 else torch.clamp(y_true, min=epsilon)
        ratio = torch.div(y, floored_x)
        x_lower = _torch_power(floored_x, lam)
        if beta == 0.0:
            per_element = torch.log(ratio).neg_().add_(ratio).sub_(1.0)
            if may_overflow:
                per_element.masked_fill_(torch.isinf(ratio), math.inf)
            value = per_sample(per_element)
        else:
            if min(abs(beta), abs(lam)) >= 0.25:
                numerator = _torch_power(ratio, beta).add_(ratio, alpha=-beta).add_(lam)
            else:
                numerator = _ratio_numerator(ratio, beta)
            numerator.mul_(floored_x).mul_(x_lower)  # beta (beta - 1) d(y | x)
            if may_overflow:
                numerator.masked_fill_(torch.isinf(ratio), math.copysign(math.inf, beta * lam))
            if beta > 0 and x_has_zero:
                zero = x == 0
                y0 = y_true[zero]
                at_zero = torch.pow(y0, beta)
                if beta < 1.0:
                    at_zero.sub_(y0, alpha=beta * epsilon**lam)
                numerator[zero] = at_zero
            value = per_sample(numerator) / (beta * lam)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            upstream = per_sample_upstream(upstream, x.shape[1:], sample_reduction)
            slope = torch.addcmul(x_lower, x_lower, ratio, value=-1.0)
            if any_floored:
                slope.masked_fill_(x <= epsilon, 0.0)
            return slope.mul_(upstream)

        return value, grad

    return divergence(y_pred)


# Exponents for which PyTorch's CPU `pow` has its own kernel (square, cube,
# sqrt, rsqrt, reciprocal and its square) rather than the scalar loop.
_TORCH_POW_OWN = (-2.0, -1.0, -0.5, 0.5, 2.0, 3.0)


def _torch_power(base, exponent):
    """`base**exponent` for a non-negative tensor and a float exponent, as
    `exp(exponent * log(base))` in one new buffer. PyTorch's CPU `pow` with
    a general float exponent is not vectorised: 165 us against 48 us for
    this on a `(100, 784)` batch, 7.1 against 1.9 ms on `(256, 12288)`
    (`benchmarks/results/torch_elementwise.md`, 2-core CPU). The exponents
    PyTorch computes by multiplications or roots (`_TORCH_POW_OWN`) keep
    `torch.pow`. A zero base gives 0 for a positive exponent and `inf` for
    a negative one, as `pow`; the relative error is about float32's epsilon
    times `|exponent log(base)|`."""
    import torch

    if exponent in _TORCH_POW_OWN:
        return torch.pow(base, exponent)
    return torch.log(base).mul_(exponent).exp_()


def _torch_half_per_sample(y_true, y_pred, epsilon, sample_reduction, any_floored, x_has_zero, may_overflow):
    """`_torch_per_sample` at beta = 0.5: the closed form of
    `_general_divergence`, `2 (sqrt(y) - sqrt(x))**2 / sqrt(x)`, in place,
    keeping no ratio or power for the gradient."""
    import torch

    per_sample = torch_per_sample(sample_reduction, y_pred.ndim)

    @ops.custom_gradient
    def half(x):
        # Half the divergence; the gradient x**-0.5 (1 - y/x) is taken as
        # (x - y) / (x sqrt(x)).
        floored_x = torch.clamp(x, min=epsilon)
        root_x = torch.sqrt(floored_x)
        per_element = torch.sqrt(y_true).add_(root_x)
        per_element = torch.sub(y_true, floored_x).div_(per_element).square_().div_(root_x)
        if may_overflow:
            per_element.masked_fill_(torch.isinf(torch.div(y_true, floored_x)), math.inf)
        if x_has_zero:
            zero = x == 0
            y0 = y_true[zero]
            # d(y | 0) = 2 y / sqrt(epsilon) - 4 sqrt(y) (_value_at_zero_x), halved
            per_element[zero] = torch.sqrt(y0).mul_(-2.0).add_(y0, alpha=epsilon**-0.5)
        value = per_sample(per_element) * 2.0

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            upstream = per_sample_upstream(upstream, x.shape[1:], sample_reduction)
            slope = torch.sub(floored_x, y_true).div_(floored_x).div_(root_x)
            if any_floored:
                slope.masked_fill_(x <= epsilon, 0.0)
            return slope.mul_(upstream)

        return value, grad

    return half(y_pred)


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
    0.1334346

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
