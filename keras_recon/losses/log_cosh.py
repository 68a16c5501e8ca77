import math

import keras
from keras import ops

from keras_recon.losses._common import ReconstructionLoss
from keras_recon.losses._common import check_positive
from keras_recon.losses._common import check_sample_reduction
from keras_recon.losses._common import is_traced
from keras_recon.losses._common import per_sample_upstream
from keras_recon.losses._common import prepare
from keras_recon.losses._common import reduce_per_sample
from keras_recon.losses._common import tensorflow_eager
from keras_recon.losses._common import torch_per_sample
from keras_recon.losses._common import xla_kernel


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
    large `|t|`, so `a` sets where the loss turns from L2 into L1. With
    `u = a t`, the value is computed in one of two exact forms that keep full
    relative precision for tiny `|u|` (where `log(cosh(u))` rounds to 0) and
    cannot overflow for any finite `u`: eagerly as `log1p(2 sinh(u/2)^2)`
    with `|u|` capped at 20 and the excess added linearly (fewest kernels;
    with the surrogate gradient, reduced per sample inside the custom
    gradient, see `_eager_per_sample`),
    and compiled from one `exp(-2|u|)` and two short polynomials (a
    minimax-like fit of `log cosh` below `|u| = 1`, of `log1p` of the
    exponential above it; one float32 ulp), or, where autodiff
    differentiates the value, from one `expm1(-2|u|)` shared by both
    branches. Half-precision inputs are computed and returned in float32.

    With `surrogate_gradient=True` the gradient is the paper's surrogate,
    `tanh(a t)` with respect to `y_pred` (and `-tanh(a t)` with respect to
    `y_true`), which the paper writes with `stop_gradient`; here it is a
    `keras.ops.custom_gradient`, which compiles to about half the time of
    the `stop_gradient` form. With `surrogate_gradient=False` plain autodiff
    differentiates the value; both give the same gradient.

    Example:

    >>> y_true = [[0.0, 1.0], [0.0, 0.0]]
    >>> y_pred = [[0.1, 0.9], [0.0, 0.5]]
    >>> keras_recon.losses.log_cosh(y_true, y_pred, a=10.0)
    array([0.08675618, 0.4306898 ], dtype=float32)

    Args:
        y_true: Target values, shape `(batch, d0, ..., dN)`.
        y_pred: Predicted values, the same shape as `y_true`.
        a: Positive sharpness of the transition from L2 to L1; the paper
            uses `a=100` on images in `[0, 1]`. Defaults to `1.0`.
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

    def kernel(y_true, y_pred, a):
        t = y_pred - y_true
        if surrogate_gradient and not is_traced(t):
            return ops.cast(_eager_per_sample(t, a, sample_reduction), out_dtype)
        if surrogate_gradient:
            value = _surrogate(a)(t)
        else:
            value = _log_cosh_value(t, a)
        return reduce_per_sample(value, sample_reduction, out_dtype)

    if tensorflow_eager(y_pred):
        # `a` is an argument of the compiled kernel, not part of its key: a
        # sweep over `a` (seed 000's study, a test over ten values) compiles
        # once per shape, not once per value. The arithmetic is the same
        # float32 either way.
        key = ("log_cosh", surrogate_gradient, sample_reduction, out_dtype)
        return xla_kernel(key, kernel, y_true, y_pred, ops.convert_to_tensor(a, "float32"))
    return kernel(y_true, y_pred, a)


def _log_cosh_value(t, a, autodiff=True):
    """`(1/a) log cosh(a t)`, in whichever exact form is cheaper here.

    Compiled (`jax.jit`, `tf.function`), XLA fuses every elementwise
    operation into one pass, so the form with the fewest transcendental
    functions wins: `_one_exponential` where the gradient is supplied
    separately (`autodiff=False`, the surrogate), `_few_transcendentals`
    where autodiff differentiates the value (a polynomial's derivative is
    less exact than the polynomial). Eager (PyTorch, eager TensorFlow),
    every operation is a kernel and a pass over memory, so the form with
    the fewest operations wins. All keep full relative precision
    (`benchmarks/loss_kernels.py`).
    """
    if is_traced(t):
        form = _few_transcendentals if autodiff else _one_exponential
        return form(ops.abs(a * t)) / a
    return _few_operations(ops.abs(a * t)) / a


# Monomial coefficients, constant first, from tools/fit_log_cosh_polynomials.py:
# log cosh u = v P(v) with v = u^2 for u < 1; log1p(e) = e Q(e) for e <= exp(-2).
_P = (0.5, -0.08333299309015274, 0.022216562181711197, -0.006710384972393513,
      0.002077244920656085, -0.0005561353173106909, 8.654094563098624e-05)
_Q = (1.0, -0.49999985098838806, 0.33331936597824097, -0.2495499849319458,
      0.19334617257118225, -0.11962384730577469)


def _horner(coefficients, x):
    acc = coefficients[-1]
    for c in coefficients[-2::-1]:
        acc = acc * x + c
    return acc


def _one_exponential(abs_u):
    # One transcendental function, exp. Below |u| = 1, log cosh u = v P(v)
    # (v = u^2, within 1 float32 ulp); above, log cosh u = |u| - log 2 +
    # log1p(e) with e = exp(-2|u|) <= exp(-2) and log1p(e) = e Q(e). XLA's
    # expm1 and log1p cost 2-3x its exp and tanh on this CPU
    # (`tools/fit_log_cosh_polynomials.py` fits P and Q). Capping v keeps the
    # unselected branch finite for huge |u|.
    v = ops.square(ops.minimum(abs_u, 1.0))
    e = ops.exp(-2.0 * abs_u)
    return ops.where(abs_u < 1.0, v * _horner(_P, v), (abs_u - math.log(2.0)) + e * _horner(_Q, e))


def _few_transcendentals(abs_u):
    # One expm1 serves both branches. With m = expm1(-2|u|):
    #   tanh|u| = -m / (2 + m),
    #   log cosh u = -log1p(-tanh(u)^2) / 2     (accurate for small |u|),
    #              = |u| + log1p(1 + m) - log 2  (cannot overflow),
    # and one log1p evaluates whichever of the two applies.
    m = ops.expm1(-2.0 * abs_u)
    tanh_abs = -m / (2.0 + m)
    small = abs_u < 1.0
    log_term = ops.log1p(ops.where(small, -ops.square(tanh_abs), 1.0 + m))
    return ops.where(small, -0.5 * log_term, abs_u + log_term - math.log(2.0))


def _few_operations(abs_u):
    # log cosh u = log1p(2 sinh(u/2)^2), since cosh u - 1 = 2 sinh(u/2)^2:
    # no cancellation for small |u| (sinh and log1p keep relative
    # precision). sinh^2 would overflow float32 past |u| ~ 88, and autodiff
    # through it would pass gradients as small as 1/sinh^2, which XLA flushes
    # to zero; so |u| is capped at 20, past which log cosh u is |u| - log 2
    # to within e^-40 (below float64's precision), and the excess is added
    # back linearly. Eight elementwise operations.
    capped = ops.minimum(abs_u, _CAP)
    return ops.log1p(2.0 * ops.square(ops.sinh(0.5 * capped))) + (abs_u - capped)


_CAP = 20.0


def _surrogate(a):
    """`t -> (1/a) log cosh(a t)` whose gradient is `tanh(a t)` by definition.

    The paper writes this as `stop_gradient` arithmetic; as a custom
    gradient the compiled step keeps nothing but `t` for the backward pass
    and fuses `tanh` into it (measured 1.1x the squared error under
    `jax.jit` against 4.6x for the `stop_gradient` form; see
    `benchmarks/results/`).
    """

    @ops.custom_gradient
    def log_cosh_surrogate(t):
        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return upstream * ops.tanh(a * t)

        return _log_cosh_value(t, a, autodiff=False), grad

    return log_cosh_surrogate


def _eager_per_sample(t, a, sample_reduction):
    """Eager surrogate log-cosh, reduced per sample inside one custom gradient.

    Eager, every operation is a pass over memory, so this form does as few
    full-size passes as it can: `h = (a/2) t`, its cap at `+-10`, `L =
    log1p(2 sinh(h)^2) = log cosh(a t)` of the capped value (see
    `_few_operations`) and the excess past the cap, with `1/a` and the
    excess applied to the per-sample sums rather than to every element.
    The backward pass is `tanh(a t)` times the per-sample upstream gradient.
    """
    if keras.backend.backend() == "torch":
        return _torch_eager_per_sample(t, a, sample_reduction)
    axes = tuple(range(1, len(t.shape)))

    def reduce(x):
        if not axes:
            return x
        return ops.sum(x, axis=axes) if sample_reduction == "sum" else ops.mean(x, axis=axes)

    @ops.custom_gradient
    def log_cosh_per_sample(t):
        half = (0.5 * a) * t
        capped = ops.clip(half, -0.5 * _CAP, 0.5 * _CAP)
        # 2 sinh(h)^2 from e = expm1(|h|): sinh|h| = e (e + 2) / (2 (e + 1)),
        # exact for small |h|; TensorFlow's own `sinh` took 20 ms on a
        # (256, 64, 64, 3) batch against 3.5 ms for `expm1`.
        e = ops.expm1(ops.abs(capped))
        log_terms = ops.log1p(0.5 * ops.square(e * (e + 2.0) / (e + 1.0)))
        value = (reduce(log_terms) + 2.0 * reduce(ops.abs(half - capped))) / a

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return ops.tanh(2.0 * half) * per_sample_upstream(upstream, t.shape[1:], sample_reduction)

        return value, grad

    return log_cosh_per_sample(t)


def _torch_eager_per_sample(t, a, sample_reduction):
    """`_eager_per_sample` in PyTorch's own operations: two buffers the size
    of `t` in the forward pass, the rest in place, and the backward pass
    `tanh(a t)` by PyTorch's own `tanh`, which is vectorised on a CPU (about
    24 us on a `(100, 784)` batch, 0.9-1.1 ms on a `(256, 12288)` one, for
    `|a t|` up to 100), where `expm1` is not (76 us and 3.2-3.5 ms;
    `benchmarks/results/torch_elementwise.md`). No full-size buffer is kept
    for the backward pass beyond `t`.
    """
    import torch

    per_sample = torch_per_sample(sample_reduction, t.ndim)

    @ops.custom_gradient
    def log_cosh_per_sample(t):
        half = t * (0.5 * a)
        capped = torch.clamp(half, -0.5 * _CAP, 0.5 * _CAP)
        excess = per_sample(half.sub_(capped).abs_())
        if t.ndim > 1:
            log_terms = torch.sinh(capped, out=half)  # `half` is reduced, free now
        else:
            log_terms = torch.sinh(capped)
        log_terms.square_().mul_(2.0).log1p_()
        total = per_sample(log_terms)
        value = torch.add(total, excess, alpha=2.0).div_(a)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            upstream = per_sample_upstream(upstream, t.shape[1:], sample_reduction)
            return torch.mul(t, a).tanh_().mul_(upstream)

        return value, grad

    return log_cosh_per_sample(t)


@keras.saving.register_keras_serializable(package="keras_recon")
class LogCosh(ReconstructionLoss):
    """Log-cosh reconstruction loss, `(1/a) log cosh(a (y_pred - y_true))`.

    Formula:

    ```python
    t = y_pred - y_true
    loss = sum((1 / a) * log(cosh(a * t)))   # per sample, non-batch axes
    ```

    Quadratic (`0.5 a t^2`) for small errors and linear (`|t| - log(2)/a`)
    for large ones, so small reconstruction errors are not drowned by the KL
    term while large ones do not dominate the gradient. The gradient with
    respect to `y_pred` is exactly `tanh(a t)`. See `log_cosh` for the
    numerics.

    Example:

    >>> loss = keras_recon.losses.LogCosh(a=10.0)
    >>> loss([[0.0, 1.0], [0.0, 0.0]], [[0.1, 0.9], [0.0, 0.5]])
    0.258723

    Usage with `compile()`:

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

    Reference:
        - [Chen et al., "Log Hyperbolic Cosine Loss Improves Variational
          Auto-Encoder", 2019](https://openreview.net/forum?id=rkglvsC9Ym)
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
