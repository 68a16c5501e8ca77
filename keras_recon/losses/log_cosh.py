import math

import keras
import numpy as np
from keras import ops

from keras_recon.losses._common import ReconstructionLoss
from keras_recon.losses._common import check_positive
from keras_recon.losses._common import check_sample_reduction
from keras_recon.losses._common import prepare
from keras_recon.losses._common import reduce_per_sample


def log_cosh(
    y_true, y_pred, *, a=1.0, surrogate_gradient=True, sample_reduction="sum"
):
    """Log-cosh reconstruction error, `(1/a) log cosh(a t)` per element.

    Formula:

    ```python
    t = y_pred - y_true
    loss = sum((1 / a) * log(cosh(a * t)))   # over all non-batch axes
    ```

    It behaves as `0.5 * a * t**2` near zero and as `|t| - log(2) / a` for
    large `|t|`, so `a` sets where the loss turns from L2 into L1.

    With `u = a |t|` and `n = expm1(-u)`, the value is computed as

    ```python
    log1p(n**2 / (2 * (1 + n))) / a               # u < 1: cosh(u) - 1 = n^2 / (2 e^-u)
    |t| + (log1p((1 + n)**2) - log(2)) / a        # u >= 1: log1p(e^-2u), no cosh
    ```

    The first takes `log1p` of a positive argument with no cancellation, so
    it keeps relative precision for tiny `u`, where `log(cosh(u))` rounds to
    0; the second subtracts at most `log(2) / a` from `|t| >= 1 / a`. Both
    are exact to a few ulps in float32 and float64. Where `a |t|` overflows
    to infinity, `n = -1` and the value is still `|t| - log(2) / a`: it is
    finite for every finite input. XLA on a CPU flushes subnormal
    intermediates to zero, so below the dtype's smallest normal number
    `tiny` (1.2e-38 in float32) the precision turns absolute: the value is
    within about `tiny * max(1, 1/a)`, and where `1 / a` is subnormal
    (`a > 1 / tiny`) autodiff's gradient within `2 exp(-2 a |t|)` of
    `tanh(a t)`. Half-precision inputs are
    computed and returned in float32, float32 and float64 inputs in their
    own dtype (float64 on JAX needs `jax_enable_x64`).

    With `surrogate_gradient=True` the gradient is the paper's surrogate,
    `tanh(a t)` with respect to `y_pred` (and `-tanh(a t)` with respect to
    `y_true`), which the paper writes with `stop_gradient`; here it is a
    `keras.ops.custom_gradient`, so the value keeps its own precision, and
    `tanh(u) = -n (2 + n) / (1 + (1 + n)**2)`, also exact to a few ulps.
    With `surrogate_gradient=False` autodiff differentiates the value; both
    give the same gradient.

    Example:

    >>> y_true = [[0.0, 1.0], [0.0, 0.0]]
    >>> y_pred = [[0.1, 0.9], [0.0, 0.5]]
    >>> keras_recon.losses.log_cosh(y_true, y_pred, a=10.0)
    array([0.08675618, 0.4306898 ], dtype=float32)

    Args:
        y_true: Target values, shape `(batch, d0, ..., dN)`.
        y_pred: Predicted values, the same shape as `y_true`.
        a: Positive sharpness of the transition from L2 to L1; the paper
            uses `a=100` on images in `[0, 1]`. It must be a normal number
            of the computation's dtype (at most about 3.4e38 in float32).
            Defaults to `1.0`.
        surrogate_gradient: Whether to deliver the gradient through the
            `stop_gradient` surrogate (`True`) or by autodiff of the value
            (`False`). Defaults to `True`.
        sample_reduction: How the elementwise errors of one sample are
            combined: `"sum"` over all non-batch axes, as the papers do, or
            `"mean"` over them. Defaults to `"sum"`.

    Returns:
        One loss value per sample, shape `(batch,)`.

    Reference:
        - [Chen et al., "Log Hyperbolic Cosine Loss Improves Variational
          Auto-Encoder", 2019](https://openreview.net/forum?id=rkglvsC9Ym)
    """
    a = check_positive("a", a)
    check_sample_reduction(sample_reduction)
    y_true, y_pred, out_dtype = prepare(y_true, y_pred)
    dtype = keras.backend.standardize_dtype(y_pred.dtype)
    tiny, largest = float(np.finfo(dtype).tiny), float(np.finfo(dtype).max)
    if not tiny <= a <= largest:
        raise ValueError(
            f"Argument `a` must be a normal {dtype} number, between {tiny:g} "
            f"and {largest:g}, for {dtype} inputs. Received: a={a!r}"
        )
    t = y_pred - y_true
    if surrogate_gradient:
        value = _with_tanh_gradient(t, a)
    else:
        value, _ = _log_cosh_and_tanh(t, a)
    return reduce_per_sample(value, sample_reduction, out_dtype)


def _log_cosh_and_tanh(t, a):
    """`(1/a) log cosh(a t)` and `tanh(a t)`, in the forms `log_cosh` states.

    Only `expm1` and `log1p` are used, `log1p` of non-negative arguments
    alone: both keep float64 on every backend, where `keras.ops.tanh` and
    `sinh` return float32 on JAX, and XLA's float64 `log1p` is about 100
    ulps off near -0.4. The small-`u` form divides by `1 + n`, which is 0
    where `u` overflows; that lane takes the other form, and its divisor is
    replaced by 1 so that no infinity reaches autodiff through the unused
    branch.
    """
    abs_t = ops.abs(t)
    u = a * abs_t
    n = ops.expm1(-u)
    exp_neg_u = 1.0 + n
    exp_neg_2u = ops.square(exp_neg_u)
    small = u < 1.0
    cosh_minus_1 = ops.square(n) / (2.0 * ops.where(small, exp_neg_u, 1.0))
    log_term = ops.log1p(ops.where(small, cosh_minus_1, exp_neg_2u))
    value = ops.where(small, log_term / a, abs_t + (log_term - math.log(2.0)) / a)
    tanh_u = -n * (2.0 + n) / (1.0 + exp_neg_2u)
    return value, ops.sign(t) * tanh_u


def _with_tanh_gradient(t, a):
    """`(1/a) log cosh(a t)` whose gradient is `tanh(a t)` by definition."""

    @ops.custom_gradient
    def log_cosh_surrogate(t):
        value, tanh_at = _log_cosh_and_tanh(t, a)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return upstream * tanh_at

        return value, grad

    return log_cosh_surrogate(t)


@keras.saving.register_keras_serializable(package="keras_recon")
class LogCosh(ReconstructionLoss):
    """Log-cosh reconstruction loss, `(1/a) log cosh(a (y_pred - y_true))`.

    Quadratic (`0.5 a t^2`) for small errors and linear (`|t| - log(2)/a`)
    for large ones, so small reconstruction errors are not drowned by the KL
    term while large ones do not dominate the gradient. See `log_cosh` for
    the numerics and the domain of `a`.

    Example:

    ```python
    model.compile(optimizer="adam", loss=keras_recon.losses.LogCosh(a=100))
    ```

    Args:
        a: Positive sharpness of the transition from L2 to L1; the paper
            uses `a=100` on images in `[0, 1]`. Defaults to `1.0`.
        surrogate_gradient: Whether the gradient flows through the paper's
            `stop_gradient(tanh(a t))` surrogate rather than autodiff of the
            value. Defaults to `True`.
        sample_reduction: `"sum"` (the papers) or `"mean"` of the errors
            over each sample's non-batch axes. Defaults to `"sum"`.
        reduction: Keras reduction over the batch. Defaults to
            `"sum_over_batch_size"`.
        name: Name of the loss instance. Defaults to `"log_cosh"`.
        dtype: Dtype of the loss's computations. Defaults to `None`, which
            means `keras.backend.floatx()`.
    """

    fn = staticmethod(log_cosh)
    _hyperparameters = ("a", "surrogate_gradient")

    def __init__(
        self,
        a=1.0,
        surrogate_gradient=True,
        sample_reduction="sum",
        reduction="sum_over_batch_size",
        name="log_cosh",
        dtype=None,
    ):
        super().__init__(sample_reduction, reduction, name, dtype)
        self.a = check_positive("a", a)
        self.surrogate_gradient = bool(surrogate_gradient)
