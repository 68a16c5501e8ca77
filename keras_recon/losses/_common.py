"""Shared plumbing for the reconstruction losses.

Every loss in this package is an elementwise error followed by a per-sample
reduction. This module holds the pieces all of them need: input conversion
and checks, the float32 upcast for half-precision inputs, the reduction over
non-batch axes, and the base class that turns a pure function into a
`keras.losses.Loss`.
"""

import collections
import math

import keras
from keras import ops

SAMPLE_REDUCTIONS = ("sum", "mean")
_HALF_DTYPES = ("float16", "bfloat16")


def check_sample_reduction(sample_reduction):
    if sample_reduction not in SAMPLE_REDUCTIONS:
        raise ValueError(
            "Argument `sample_reduction` must be one of "
            f"{SAMPLE_REDUCTIONS}. Received: sample_reduction={sample_reduction!r}"
        )
    return sample_reduction


def check_positive(name, value):
    """Raises unless `value` is a finite positive Python number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(
            f"Argument `{name}` must be a positive number. "
            f"Received: {name}={value!r}"
        )
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"Argument `{name}` must be a finite positive number. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def is_traced(x):
    """True when `x` is symbolic, so its values cannot be inspected now."""
    if isinstance(x, keras.KerasTensor):
        return True
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return isinstance(x, jax.core.Tracer)
    if backend == "tensorflow":
        import tensorflow as tf

        return not tf.executing_eagerly()
    if backend == "torch":
        import torch

        return torch.compiler.is_compiling()
    return False


def tensorflow_eager(x):
    """True on the TensorFlow backend outside `tf.function`."""
    return keras.backend.backend() == "tensorflow" and not is_traced(x)


_XLA_KERNELS = collections.OrderedDict()


def xla_kernel(key, kernel, *tensors):
    """`kernel(*tensors)` on eager TensorFlow, as a cached
    `tf.function(jit_compile=True)`.

    Eager TensorFlow dispatches every operation from Python (about 30 us
    each, 60-100 us through `keras.ops`) and runs it as its own pass over
    memory; a loss of twenty operations cost 3-7x the squared error. Run
    under XLA, the loss is fused into one program, as in a compiled `fit`.
    The input checks that need values run eagerly before this. `key` must
    name everything `kernel` depends on besides its tensor arguments (the
    function's hyperparameters): the first kernel under a key is the one
    traced. Each new input shape (or dtype) costs one trace and one XLA
    compilation; shapes are not generalised, because the losses need their
    inputs' rank when traced.
    """
    import tensorflow as tf

    function = _XLA_KERNELS.get(key)
    if function is None:
        function = tf.function(kernel, jit_compile=True)
        _XLA_KERNELS[key] = function
        while len(_XLA_KERNELS) > 64:
            _XLA_KERNELS.popitem(last=False)
    return function(*tensors)


def torch_eager_target_is_constant(y_true):
    """PyTorch with no gradient asked of `y_true` (training). Call it only
    for eager inputs (for example after `non_negative_extremes` returned
    values)."""
    return keras.backend.backend() == "torch" and not y_true.requires_grad


def non_negative_extremes(y_true, y_pred):
    """Raises `ValueError` if an eager `y_true` or `y_pred` holds a
    negative value; returns `(smallest y_true,
    smallest y_pred, largest of either)` as floats (`None` when traced or
    empty).

    The minima and the maximum are read back in one transfer: on eager
    backends every read-back waits for the device. Traced tensors (inside
    `jit`, `tf.function` or `torch.compile`) cannot be inspected; for them
    the check is skipped, as documented by the losses.
    """
    if is_traced(y_true) or is_traced(y_pred) or 0 in tuple(y_true.shape):
        return None
    backend = keras.backend.backend()
    if backend == "torch":
        smallest_true, smallest_pred, peak = _torch_extremes(y_true, y_pred)
    elif backend == "tensorflow":
        smallest_true, smallest_pred, peak = _tensorflow_extremes(y_true, y_pred)
    else:
        smallest_true, smallest_pred, peak = (
            float(v)
            for v in ops.convert_to_numpy(
                ops.stack([ops.min(y_true), ops.min(y_pred), ops.maximum(ops.max(y_true), ops.max(y_pred))])
            )
        )
    for name, smallest in (("y_true", smallest_true), ("y_pred", smallest_pred)):
        if smallest < 0:
            raise ValueError(
                f"`{name}` must be non-negative, but its smallest value is "
                f"{smallest!r}."
            )
    return smallest_true, smallest_pred, peak


def _torch_extremes(y_true, y_pred):
    # One `aminmax` pass per tensor: the same figures through `keras.ops`
    # (four reductions, a stack and a conversion, each checking its
    # arguments) took 155 us on a (100, 784) batch, here 18 us, against
    # about 200 us for the whole squared error with its gradient.
    import torch

    with torch.no_grad():
        true_min, true_max = torch.aminmax(y_true)
        pred_min, pred_max = torch.aminmax(y_pred)
        return torch.stack([true_min, pred_min, torch.maximum(true_max, pred_max)]).tolist()


def _tensorflow_extremes(y_true, y_pred):
    # Eager TensorFlow: the `keras.ops` form took 1.0 ms on a (100, 784)
    # batch, more than the squared error with its gradient (0.9 ms); the
    # same reductions called directly take 0.18 ms.
    import tensorflow as tf

    return tf.stack(
        [tf.reduce_min(y_true), tf.reduce_min(y_pred), tf.maximum(tf.reduce_max(y_true), tf.reduce_max(y_pred))]
    ).numpy().tolist()


def prepare(y_true, y_pred, flatten=True):
    """Converts inputs to tensors of one float dtype and checks shapes.

    Returns `(y_true, y_pred, out_dtype)`. Half-precision inputs are upcast
    to float32 and the loss is returned in float32: a per-sample sum over
    thousands of pixels does not fit in float16. With `flatten`, inputs of
    rank 3 and more come back as `(batch, features)` (see `flatten_batch`);
    a loss whose parameters broadcast against the image shape passes
    `flatten=False`.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    if not keras.backend.is_float_dtype(y_pred.dtype):
        y_pred = ops.cast(y_pred, keras.backend.floatx())
    y_true = ops.convert_to_tensor(y_true, dtype=y_pred.dtype)
    true_shape, pred_shape = tuple(y_true.shape), tuple(y_pred.shape)
    mismatch = len(true_shape) != len(pred_shape) or any(
        a is not None and b is not None and a != b
        for a, b in zip(true_shape, pred_shape)
    )
    if mismatch:
        raise ValueError(
            "`y_true` and `y_pred` must have the same shape. Received: "
            f"y_true.shape={true_shape}, y_pred.shape={pred_shape}"
        )
    out_dtype = keras.backend.standardize_dtype(y_pred.dtype)
    if out_dtype in _HALF_DTYPES:
        out_dtype = "float32"
        y_true = ops.cast(y_true, out_dtype)
        y_pred = ops.cast(y_pred, out_dtype)
    if flatten:
        y_true, y_pred = flatten_batch(y_true), flatten_batch(y_pred)
    return y_true, y_pred, out_dtype


def flatten_batch(x):
    """`(batch, d0, ..., dN)` -> `(batch, d0 * ... * dN)` when the sizes are known.

    The losses are elementwise and then reduced over every non-batch axis,
    so this changes no value; it matters for speed. Images carry a trailing
    channel axis of size 1 (MNIST's `(28, 28, 1)`), and XLA on CPU does not
    vectorise a fused elementwise-and-reduce loop whose innermost axis has
    one element: a log-based loss cost 1.45x the squared error per VAE step
    on JAX with image-shaped inputs and 1.0x flattened
    (`benchmarks/train_step.py`).
    """
    shape = tuple(x.shape)
    if len(shape) <= 2 or any(d is None for d in shape[1:]):
        return x
    size = math.prod(shape[1:])
    return ops.reshape(x, (-1, size)) if size else x


def reduce_per_sample(values, sample_reduction, out_dtype):
    """Sums or averages elementwise errors over every non-batch axis."""
    if len(values.shape) > 1:
        axes = tuple(range(1, len(values.shape)))
        if sample_reduction == "sum":
            values = ops.sum(values, axis=axes)
        else:
            values = ops.mean(values, axis=axes)
    return ops.cast(values, out_dtype)


class ReconstructionLoss(keras.losses.Loss):
    """Base class: a per-sample loss built from an elementwise function.

    Subclasses set `fn` (the public pure function) and list their own
    hyperparameters in `_hyperparameters`; `get_config` then returns exactly
    the constructor's arguments.
    """

    fn = None
    _hyperparameters = ()

    def __init__(self, sample_reduction, reduction, name, dtype):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.sample_reduction = check_sample_reduction(sample_reduction)
        # Kept as given so that `get_config` round-trips the argument.
        self._dtype_arg = dtype if dtype is None or isinstance(dtype, str) else (
            self._dtype_policy.name
        )

    def call(self, y_true, y_pred):
        kwargs = {k: getattr(self, k) for k in self._hyperparameters}
        return self.fn(
            y_true, y_pred, sample_reduction=self.sample_reduction, **kwargs
        )

    def get_config(self):
        config = super().get_config()
        config.update({k: getattr(self, k) for k in self._hyperparameters})
        config["sample_reduction"] = self.sample_reduction
        config["dtype"] = self._dtype_arg
        return config
