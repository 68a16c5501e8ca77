import math

import keras
from keras import ops

from keras_recon.losses._common import ReconstructionLoss
from keras_recon.losses._common import check_number
from keras_recon.losses._common import prepare
from keras_recon.losses._common import reduce_per_sample

MAX_EXPONENT = 60.0  # e^60 ~ 1.1e26: sums over ~1e12 elements fit float32
ALPHA_FLOOR = 1.1920929e-07  # float32's machine epsilon, as in Barron's code
RESIDUAL_LIMIT = 1e18  # in scales; the square and its derivative fit float32
SPECIAL_ALPHAS = (-math.inf, 0.0, 2.0, math.inf)


def scaled_square(x, scale):
    """`(x / scale)**2`, with `x / scale` clipped to `+-1e18`.

    Past the clip the loss is flat, so that no gradient is `inf * 0 = NaN`
    where the square or its derivative would overflow float32.
    """
    return ops.square(ops.clip(x / scale, -RESIDUAL_LIMIT, RESIDUAL_LIMIT))


# rho as a function of z = (x / c)^2 at each special alpha.
_SPECIAL_CASES = {
    2.0: lambda z: 0.5 * z,
    0.0: lambda z: ops.log1p(0.5 * z),
    -math.inf: lambda z: -ops.expm1(-0.5 * z),
    math.inf: lambda z: ops.expm1(ops.minimum(0.5 * z, MAX_EXPONENT)),
}


def _general_case(z, alpha, b):
    # (b / alpha) * ((z / b + 1)^(alpha / 2) - 1), through expm1/log1p
    # so it stays accurate as alpha -> 0 and cannot overflow.
    exponent = ops.minimum(0.5 * alpha * ops.log1p(z / b), MAX_EXPONENT)
    return (b / alpha) * ops.expm1(exponent)


def robust_rho(x, alpha, scale, special_alphas=SPECIAL_ALPHAS):
    """Barron's general robust loss `rho(x, alpha, c)`, elementwise.

    Formula:

    ```python
    z = (x / c) ** 2
    b = abs(alpha - 2)
    rho = (b / alpha) * ((z / b + 1) ** (alpha / 2) - 1)
    ```

    with the limits

    - `alpha = 2`: `z / 2` (L2),
    - `alpha = 1`: `sqrt(z + 1) - 1` (Charbonnier / pseudo-Huber),
    - `alpha = 0`: `log(z / 2 + 1)` (Cauchy / Lorentzian),
    - `alpha = -2`: `2 z / (z + 4)` (Geman-McClure),
    - `alpha = -inf`: `1 - exp(-z / 2)` (Welsch),
    - `alpha = +inf`: `exp(z / 2) - 1`.

    A Python `alpha` computes only its own case; a tensor `alpha` computes
    the general form with safe divisors and each of `special_alphas` by its
    closed form, picked with `where`, so that value and gradients (by
    autodiff) are finite for every `alpha` in `[-inf, +inf]`. Exponents are
    capped at 60 and residuals clipped at `1e18` scales (the guide
    "Numerics of the losses" says why).

    Example:

    >>> x = np.array([0.0, 1.0, 3.0], dtype="float32")
    >>> keras_recon.losses.robust_rho(x, 1.0, 1.0)
    array([0.        , 0.41421354, 2.1622777 ], dtype=float32)

    Args:
        x: Residuals.
        alpha, scale: Shape in `[-inf, +inf]` and positive scale `c`:
            Python numbers or tensors that broadcast with `x`.
        special_alphas: The special values a tensor `alpha` may take.
            Defaults to `(-inf, 0, 2, inf)`.

    Returns:
        `rho(x, alpha, scale)`, the shape of `x` broadcast with the others.

    Reference:
        - [Barron, "A General and Adaptive Robust Loss Function", CVPR
          2019](https://arxiv.org/abs/1701.03077), eq. 1-2.
    """
    x = ops.convert_to_tensor(x)
    if not keras.backend.is_float_dtype(x.dtype):
        x = ops.cast(x, keras.backend.floatx())
    z = scaled_square(x, scale)
    if isinstance(alpha, (int, float)):
        alpha = check_number("alpha", alpha, allow_inf=True)
        if alpha in _SPECIAL_CASES:
            return _SPECIAL_CASES[alpha](z)
        return _general_case(z, alpha, abs(alpha - 2.0))
    alpha = ops.cast(alpha, z.dtype)
    # Safe divisors: |alpha| and |alpha - 2| floored, a special infinity
    # replaced by 1 (its lane takes the closed form).
    finite_alpha = alpha
    if any(math.isinf(v) for v in special_alphas):
        finite_alpha = ops.where(ops.isinf(alpha), ops.ones_like(alpha), alpha)
    b = ops.maximum(ALPHA_FLOOR, ops.abs(finite_alpha - 2.0))
    signed_alpha = ops.where(finite_alpha >= 0, 1.0, -1.0) * ops.maximum(ALPHA_FLOOR, ops.abs(finite_alpha))
    value = _general_case(z, signed_alpha, b)
    for special in special_alphas:
        value = ops.where(alpha == special, _SPECIAL_CASES[special](z), value)
    return value


def general_robust(y_true, y_pred, *, alpha=1.0, scale=1.0, sample_reduction="sum"):
    """Barron's general robust loss of the residual, per sample.

    Formula:

    ```python
    loss = sum(robust_rho(y_pred - y_true, alpha, scale))   # non-batch axes
    ```

    See `robust_rho` for `rho`, its special cases and its numerics.

    Example:

    >>> keras_recon.losses.general_robust(
    ...     [[0.0, 1.0]], [[1.0, 4.0]], alpha=0.0, scale=1.0)
    array([2.1102133], dtype=float32)

    Args:
        y_true, y_pred: Targets and predictions, of one shape `(batch, ...)`.
        alpha: Shape parameter in `[-inf, +inf]`: 2 is L2, 1 Charbonnier,
            0 Cauchy, -2 Geman-McClure, -inf Welsch. Defaults to `1.0`.
        scale: Positive scale `c` of the quadratic bowl near zero.
            Defaults to `1.0`.
        sample_reduction: `"sum"` or `"mean"` over non-batch axes. Defaults to `"sum"`.

    Returns:
        One loss value per sample, shape `(batch,)`.

    Reference:
        - [Barron, "A General and Adaptive Robust Loss Function", CVPR
          2019](https://arxiv.org/abs/1701.03077).
    """
    if isinstance(scale, (int, float)):
        check_number("scale", scale, positive=True)
    # A tensor alpha or scale may broadcast against the image shape.
    scalars = all(isinstance(v, (int, float)) or len(getattr(v, "shape", ())) == 0 for v in (alpha, scale))
    y_true, y_pred, out_dtype = prepare(y_true, y_pred, flatten=scalars)
    return reduce_per_sample(robust_rho(y_pred - y_true, alpha, scale), sample_reduction, out_dtype)


@keras.saving.register_keras_serializable(package="keras_recon")
class GeneralRobust(ReconstructionLoss):
    """Barron's general robust loss with a fixed shape and scale.

    See `general_robust`; for an `alpha` and scale learned with the model,
    use `keras_recon.likelihoods.AdaptiveRobust`.

    Example:

    >>> loss = keras_recon.losses.GeneralRobust(alpha=0.0, scale=1.0)
    >>> loss([[0.0, 1.0]], [[1.0, 4.0]])
    2.1102133

    Args:
        alpha: Shape parameter in `[-inf, +inf]`. Defaults to `1.0`.
        scale: Positive scale `c`. Defaults to `1.0`.
        sample_reduction: `"sum"` or `"mean"` over non-batch axes. Defaults to `"sum"`.
    """

    def __init__(self, alpha=1.0, scale=1.0, sample_reduction="sum",
                 reduction="sum_over_batch_size", name="general_robust", dtype=None):
        super().__init__(general_robust, sample_reduction, reduction, name, dtype,
                         alpha=check_number("alpha", alpha, allow_inf=True),
                         scale=check_number("scale", scale, positive=True))
