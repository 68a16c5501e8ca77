import math

import keras
from keras import ops

from keras_recon.losses._common import ReconstructionLoss
from keras_recon.losses._common import check_number
from keras_recon.losses._common import prepare
from keras_recon.losses._common import reduce_per_sample

# Largest float32 magnitude the formulas may form, with a margin below
# float32's 3.4e38 for the sums they enter.
_FLOAT32_LIMIT = 1e37


def check_beta(beta, epsilon=1e-7):
    """`beta` as a float, if it is finite and the floor's curvature
    `epsilon**(beta - 2)` fits float32; else a `ValueError`."""
    beta = check_number("beta", beta)
    if (beta - 2.0) * math.log(epsilon) > math.log(_FLOAT32_LIMIT):
        raise ValueError(
            f"beta_divergence with beta={beta} and epsilon={epsilon}: the curvature "
            f"epsilon**(beta - 2) below the floor overflows float32. Use beta >= "
            f"{2.0 + math.log(_FLOAT32_LIMIT) / math.log(epsilon):.6g} or a larger epsilon."
        )
    return beta


def box_cox_log(t, lam):
    """`(t**lam - 1) / lam` (`log t` at `lam = 0`) for `t > 0`: the derivative
    of the generator, `lam = beta - 1`; `expm1` keeps it exact as `lam -> 0`."""
    if lam == 0.0:
        return ops.log(t)
    return ops.expm1(lam * ops.log(t)) / lam


def _divergence_above_floor(y, x, beta):
    """`d_beta(y | x)` for `y, x > 0`, in the form that keeps precision.

    Closed forms at `beta = 1`, `0` and `0.5`; otherwise the homogeneous
    form `x**beta d(y / x | 1)` through `expm1`, continuous across `beta = 0`
    and `1`. Except at 1 and 0 the gradient is the divergence's own, written
    out, because autodiff of these forms loses precision where `beta < 0`
    and `y << x`, and is `inf * 0` at the top of float32's range at 0.5.
    Logarithms are taken apart, as `log(y) - log(x)`: `y / x` under- or
    overflows at float32's extremes.
    """
    if beta == 1.0:
        return y * (ops.log(y) - ops.log(x)) - y + x
    if beta == 0.0:
        return y / x - 1.0 - (ops.log(y) - ops.log(x))
    lam = beta - 1.0

    @ops.custom_gradient
    def divergence(y, x):
        if beta == 0.5:
            # 2 (sqrt(y) - sqrt(x))**2 / sqrt(x), with the roots' difference
            # as (y - x) / (sqrt(y) + sqrt(x)), which does not cancel at y ~ x;
            # its gradient 2 (1/sqrt(x) - 1/sqrt(y)) in y, (x - y) / x**1.5 in x.
            root_x, root_y = ops.sqrt(x), ops.sqrt(y)
            root_gap = (y - x) / (root_y + root_x)
            value = 2.0 * ops.square(root_gap) / root_x
        else:
            log_r = ops.log(y) - ops.log(x)
            r = y / x
            if abs(lam) < abs(beta):
                numerator = r * ops.expm1(lam * log_r) - lam * (r - 1.0)
            else:
                numerator = ops.expm1(beta * log_r) - beta * (r - 1.0)
            value = ops.exp(beta * ops.log(x)) * numerator / (beta * lam)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            if beta == 0.5:
                d_y = 2.0 * root_gap / (root_x * root_y)
                d_x = (x - y) / (x * root_x)
            else:
                d_y = ops.exp(lam * ops.log(x)) * ops.expm1(lam * log_r) / lam
                d_x = ops.exp((beta - 2.0) * ops.log(x)) * (x - y)
            return upstream * d_y, upstream * d_x

        return value, grad

    return divergence(y, x)


def elementwise_beta_divergence(y, x, beta, epsilon):
    """`d_beta(y | x)` per element, continued below `epsilon` so that value
    and gradient are finite for every real input.

    The beta-divergence is the Bregman divergence whose generator has the
    derivative `L(t) = box_cox_log(t, beta - 1)`. Below `epsilon`, `L` is
    continued by its tangent, of slope `C = epsilon**(beta - 2)`. With
    `y_ = max(y, epsilon)`, `x_ = max(x, epsilon)`, `dy = y - y_` and
    `dx = x - x_`:

        d(y | x) = d(y_ | x_) + dy (L(epsilon) - L(x_))
                   - C dx (y_ - epsilon) + C (dy - dx)**2 / 2

    again a Bregman divergence: zero where `y == x`, exact where both inputs
    are at least `epsilon`, and of gradient `C (x - y)` in `x` below the
    floor. The gradient is autodiff of this value. The guide "Numerics of
    the losses" has the derivation.
    """
    if beta == 2.0:
        return 0.5 * ops.square(y - x)
    lam = beta - 1.0
    # On PyTorch, Keras 3.15's `maximum` returns float32 for float64 inputs
    # and a Python float passes through float32: hence `where`, and epsilon
    # as a tensor of the inputs' dtype. The offsets are selected, not
    # computed as `y - y_floor`, so above the floor they carry no gradient
    # (one of size `C` cancelling another).
    floor = ops.convert_to_tensor(epsilon, dtype=x.dtype)
    y_above, x_above = y > floor, x > floor
    y_floor, x_floor = ops.where(y_above, y, floor), ops.where(x_above, x, floor)
    zero = ops.zeros_like(x)
    dy, dx = ops.where(y_above, zero, y - floor), ops.where(x_above, zero, x - floor)
    curvature = epsilon ** (beta - 2.0)
    log_at_floor = box_cox_log(floor, lam)
    # Exactly 0 where x is below the floor too: the scalar and the
    # elementwise logarithm may differ in the last bit, which `dy` would
    # turn into a nonzero value at y == x.
    log_gap = ops.where(x_above, log_at_floor - box_cox_log(x_floor, lam), zero)
    continuation = dy * log_gap - curvature * dx * (y_floor - floor) + 0.5 * curvature * ops.square(dy - dx)
    return _divergence_above_floor(y_floor, x_floor, beta) + continuation


def beta_divergence(y_true, y_pred, *, beta=2.0, epsilon=1e-7, sample_reduction="sum"):
    """Beta-divergence `d_beta(y_true | y_pred)` per sample.

    Formula, with `y = y_true` and `x = y_pred`:

    ```python
    d = sum(y**beta / (beta * (beta - 1)) + x**beta / beta
            - y * x**(beta - 1) / (beta - 1))
    ```

    and by continuity `beta = 2`: half the squared error; `beta = 1`: the
    I-divergence `y log(y/x) - y + x`; `beta = 0`: Itakura-Saito
    `y/x - log(y/x) - 1`. (The thesis prints the last sign of its eq. 29 as
    `+`; the limits it derives need `-`, which is used here.)

    For `beta < 2` the divergence has a pole or an infinite slope at 0;
    below `epsilon` it is continued as a Bregman divergence, exact where
    both inputs are at least `epsilon`, zero where `y_true == y_pred`, with
    a finite gradient toward `y_true`. For `beta > 1` inputs are clipped
    where their `beta`-th power would leave float32's range (the guide
    "Numerics of the losses" has the derivations).

    Example:

    >>> y_true = [[0.2, 0.5, 1.0]]
    >>> y_pred = [[0.1, 0.5, 0.8]]
    >>> keras_recon.losses.beta_divergence(y_true, y_pred, beta=2.0)
    array([0.025], dtype=float32)

    Args:
        y_true, y_pred: Non-negative targets and predictions, of one shape
            `(batch, ...)`.
        beta: Any finite real with `epsilon**(beta - 2)` within float32's
            range (`beta >= -3.2857` at the default epsilon). Defaults to
            `2.0`.
        epsilon: Positive floor below which the divergence is continued.
            Defaults to `1e-7`.
        sample_reduction: `"sum"` or `"mean"` over non-batch axes. Defaults to `"sum"`.

    Returns:
        One loss value per sample, shape `(batch,)`.

    Reference:
        - Takuma Haruguchi, "Autoencoder with New Loss Functions", thesis
          supervised by Shuxue Ding, 2019, fig. 1 and eq. 29.
        - Cedric Fevotte and Jerome Idier, "Algorithms for nonnegative
          matrix factorization with the beta-divergence", Neural
          Computation, 2011.
    """
    epsilon = check_number("epsilon", epsilon, positive=True)
    beta = check_beta(beta, epsilon)
    y_true, y_pred, out_dtype = prepare(y_true, y_pred)
    if beta > 1.0:
        # The formula's terms are each of size max(y, x)**beta; past
        # float32's range they would be inf and their difference NaN.
        bound = math.exp(math.log(_FLOAT32_LIMIT) / beta)
        y_true, y_pred = ops.minimum(y_true, bound), ops.minimum(y_pred, bound)
    values = elementwise_beta_divergence(y_true, y_pred, beta, epsilon)
    return reduce_per_sample(values, sample_reduction, out_dtype)


@keras.saving.register_keras_serializable(package="keras_recon")
class BetaDivergence(ReconstructionLoss):
    """Beta-divergence reconstruction loss `d_beta(y_true | y_pred)`.

    Joins half the squared error (`beta=2`), the I-divergence (`beta=1`,
    `IDivergence(direction="forward")`) and Itakura-Saito (`beta=0`),
    continuously in beta; see `beta_divergence`.

    Example:

    >>> loss = keras_recon.losses.BetaDivergence(beta=0.5)
    >>> loss([[0.2, 0.5, 1.0]], [[0.1, 0.5, 0.8]])
    0.1334346

    Args:
        beta: A finite real; see `beta_divergence`. Defaults to `2.0`.
        epsilon: Positive floor of the continuation. Defaults to `1e-7`.
        sample_reduction: `"sum"` or `"mean"` over non-batch axes. Defaults to `"sum"`.
    """

    def __init__(self, beta=2.0, epsilon=1e-7, sample_reduction="sum",
                 reduction="sum_over_batch_size", name="beta_divergence", dtype=None):
        epsilon = check_number("epsilon", epsilon, positive=True)
        super().__init__(beta_divergence, sample_reduction, reduction, name, dtype,
                         beta=check_beta(beta, epsilon), epsilon=epsilon)
