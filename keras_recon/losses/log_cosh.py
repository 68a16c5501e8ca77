import math

import keras
import numpy as np
from keras import ops

from keras_recon.losses._common import ReconstructionLoss
from keras_recon.losses._common import check_number
from keras_recon.losses._common import prepare
from keras_recon.losses._common import reduce_per_sample


def log_cosh(y_true, y_pred, *, a=1.0, surrogate_gradient=True, sample_reduction="sum"):
    """Log-cosh reconstruction error, `(1/a) log cosh(a t)` per element.

    Formula:

    ```python
    t = y_pred - y_true
    loss = sum((1 / a) * log(cosh(a * t)))   # over all non-batch axes
    ```

    It behaves as `0.5 * a * t**2` near zero and as `|t| - log(2) / a` for
    large `|t|`, so `a` sets where the loss turns from L2 into L1.

    The value is computed from `expm1(-a |t|)` in two forms that neither
    cancel nor overflow, exact to a few ulps in float32 and float64 above
    the subnormal range (the guide "Numerics of the losses" derives them).
    The gradient is the paper's `stop_gradient` surrogate `tanh(a t)` in
    `y_pred`, as a custom gradient so that the value keeps its precision;
    `surrogate_gradient=False` differentiates the value, to the same result.

    Example:

    >>> y_true = [[0.0, 1.0], [0.0, 0.0]]
    >>> y_pred = [[0.1, 0.9], [0.0, 0.5]]
    >>> keras_recon.losses.log_cosh(y_true, y_pred, a=10.0)
    array([0.08675618, 0.4306898 ], dtype=float32)

    Args:
        y_true, y_pred: Targets and predictions, of one shape `(batch, ...)`.
        a: Positive sharpness of the transition from L2 to L1, a normal
            number of the computation's dtype; the paper uses `a=100` on
            images in `[0, 1]`. Defaults to `1.0`.
        surrogate_gradient: Whether the gradient is the `tanh` surrogate
            (`True`) or autodiff of the value (`False`). Defaults to `True`.
        sample_reduction: `"sum"` or `"mean"` over non-batch axes. Defaults to `"sum"`.

    Returns:
        One loss value per sample, shape `(batch,)`.

    Reference:
        - [Chen et al., "Log Hyperbolic Cosine Loss Improves Variational
          Auto-Encoder", 2019](https://openreview.net/forum?id=rkglvsC9Ym)
    """
    a = check_number("a", a, positive=True)
    y_true, y_pred, out_dtype = prepare(y_true, y_pred)
    # out_dtype is the computation's: half precision is computed in float32.
    tiny, largest = float(np.finfo(out_dtype).tiny), float(np.finfo(out_dtype).max)
    if not tiny <= a <= largest:
        raise ValueError(
            f"Argument `a` must be a normal {out_dtype} number, between {tiny:g} "
            f"and {largest:g}, for {out_dtype} inputs. Received: a={a!r}"
        )

    @ops.custom_gradient
    def with_tanh_gradient(t):
        value, tanh_at = _log_cosh_and_tanh(t, a)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return upstream * tanh_at

        return value, grad

    t = y_pred - y_true
    value = with_tanh_gradient(t) if surrogate_gradient else _log_cosh_and_tanh(t, a)[0]
    return reduce_per_sample(value, sample_reduction, out_dtype)


def _log_cosh_and_tanh(t, a):
    """`(1/a) log cosh(a t)` and `tanh(a t)` from `expm1` and `log1p` alone.

    These two keep float64 on every backend (`keras.ops.tanh` returns
    float32 on JAX). Where `u` overflows, `1 + n` is 0: that lane takes the
    large-`u` form, and its unused divisor is replaced by 1 so that no
    infinity reaches autodiff.
    """
    abs_t = ops.abs(t)
    u = a * abs_t
    n = ops.expm1(-u)
    exp_neg_u = 1.0 + n
    exp_neg_2u = ops.square(exp_neg_u)
    small = u < 1.0
    cosh_minus_1 = ops.square(n) / (2.0 * ops.where(small, exp_neg_u, 1.0))
    # log1p of non-negative arguments only: XLA's float64 log1p is about
    # 100 ulps off near -0.4.
    log_term = ops.log1p(ops.where(small, cosh_minus_1, exp_neg_2u))
    value = ops.where(small, log_term / a, abs_t + (log_term - math.log(2.0)) / a)
    tanh_u = -n * (2.0 + n) / (1.0 + exp_neg_2u)
    return value, ops.sign(t) * tanh_u


@keras.saving.register_keras_serializable(package="keras_recon")
class LogCosh(ReconstructionLoss):
    """Log-cosh reconstruction loss, `(1/a) log cosh(a (y_pred - y_true))`.

    Quadratic for small errors and linear for large ones, so small
    reconstruction errors are not drowned by the KL term while large ones
    do not dominate the gradient; see `log_cosh`.

    Example:

    ```python
    model.compile(optimizer="adam", loss=keras_recon.losses.LogCosh(a=100))
    ```

    Args:
        a: Positive sharpness of the transition from L2 to L1. Defaults to `1.0`.
        surrogate_gradient: Whether the gradient is the paper's `tanh(a t)`
            surrogate. Defaults to `True`.
        sample_reduction: `"sum"` or `"mean"` over non-batch axes. Defaults to `"sum"`.
    """

    def __init__(self, a=1.0, surrogate_gradient=True, sample_reduction="sum",
                 reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, sample_reduction, reduction, name, dtype,
                         a=check_number("a", a, positive=True),
                         surrogate_gradient=bool(surrogate_gradient))
