"""Shared plumbing for the reconstruction losses.

Every loss in this package is an elementwise error followed by a per-sample
reduction. This module holds the pieces all of them need: input conversion
and checks, the float32 upcast for half-precision inputs, the reduction over
non-batch axes, and the base class that turns a pure function into a
`keras.losses.Loss`.
"""

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
    one element (`benchmarks/train_step.py` measures the VAE step).
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
        # Kept as given (a policy by its name) so that `get_config`
        # round-trips the argument.
        self._dtype_arg = dtype if dtype is None or isinstance(dtype, str) else dtype.name

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
