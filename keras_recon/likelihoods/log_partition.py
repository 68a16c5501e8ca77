import functools
import os

import numpy as np
from keras import ops

_TABLE = os.path.join(os.path.dirname(__file__), "resources", "log_partition.npz")
LOG_Z_INFINITY = 0.70526025442


@functools.lru_cache(maxsize=1)
def _table():
    """Per knot interval, the cubic Hermite interpolant's coefficients in
    `t`, constant term first, shape `(knots, 4)`, float32.

    With values `v0, v1` and slopes `m0, m1` (per unit of `t`) at the
    interval's ends the cubic is `v0 + m0 t + c2 t^2 + c3 t^3`, with
    `c2 = 3 (v1 - v0) - 2 m0 - m1` and `c3 = 2 (v0 - v1) + m0 + m1`
    (computed in float64), so that each alpha needs one lookup and a
    Horner evaluation.
    """
    with np.load(_TABLE) as data:
        values = data["g"].astype("float64")
        slopes = data["dg_du"].astype("float64") / (len(data["u"]) - 1)
    v0, v1, m0, m1 = values[:-1], values[1:], slopes[:-1], slopes[1:]
    c2 = 3.0 * (v1 - v0) - 2.0 * m0 - m1
    c3 = 2.0 * (v0 - v1) + m0 + m1
    return np.stack([v0, m0, c2, c3], axis=1).astype("float32")


def _singular(alpha):
    # (alpha - 2) log|alpha - 2| / 4, windowed: continuous, with a log-infinite
    # slope at alpha = 2; the floor keeps the gradient finite (about -3.5) there.
    gap = alpha - 2.0
    window = ops.exp(-0.5 * gap * gap)
    return 0.25 * gap * ops.log(ops.maximum(ops.abs(gap), 1e-6)) * window


def log_partition(alpha):
    """`log Z(alpha)` of Barron's general distribution, differentiable in alpha.

    Formula:

    ```python
    Z(alpha) = integral over x of exp(-rho(x, alpha, 1))
    ```

    so that `p(x | alpha, c) = exp(-rho(x, alpha, c)) / (c Z(alpha))`. Known
    values: `Z(0) = pi sqrt(2)` (Cauchy), `Z(2) = sqrt(2 pi)` (Normal),
    `log Z -> 0.70526025442` as `alpha -> inf`.

    `log Z` is continuous but not smooth at `alpha = 2`: its slope behaves
    as `log|alpha - 2| / 4`. It is evaluated as that closed-form singular
    part, `(alpha - 2) log|alpha - 2| / 4` (under a Gaussian window that
    keeps it local), plus a smooth remainder interpolated, C1, by cubic
    Hermite polynomials from a table of values and slopes at 8,193 knots
    uniform in `u = alpha / (1 + alpha)`, which
    covers `[0, inf]` (`tools/build_log_partition_table.py` builds it with
    adaptive quadrature). The gradient at exactly `alpha = 2`, where the
    true slope is infinite, is that of `|alpha - 2|` floored at 1e-6.

    Example:

    >>> float(log_partition(np.array(2.0)))   # log sqrt(2 pi)
    0.9189385...

    Args:
        alpha: Shape parameters, any shape, in `[0, inf]`.

    Returns:
        `log Z(alpha)`, the same shape, float32.
    """
    table = _table()
    knots = len(table)
    alpha = ops.cast(ops.convert_to_tensor(alpha), "float32")
    is_inf = ops.isinf(alpha)
    finite = ops.where(is_inf, ops.zeros_like(alpha), ops.maximum(alpha, 0.0))
    u = ops.where(is_inf, ops.ones_like(alpha), finite / (1.0 + finite))
    position = u * knots
    index = ops.cast(ops.clip(ops.floor(ops.stop_gradient(position)), 0, knots - 1), "int32")
    t = position - ops.cast(index, "float32")
    v0, m0, c2, c3 = ops.unstack(ops.take(table, index, axis=0), 4, axis=-1)
    smooth = ((c3 * t + c2) * t + m0) * t + v0
    return smooth + ops.where(is_inf, ops.zeros_like(alpha), _singular(finite))


__all__ = ["log_partition", "LOG_Z_INFINITY"]
