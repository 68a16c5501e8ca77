"""What every loss shares: argument checks, input conversion, the
per-sample reduction, and the `Loss` class that wraps a pure function."""

import math

import keras
from keras import ops


def check_number(name, value, *, positive=False, allow_inf=False):
    """`value` as a float if it is a real Python number, not NaN, finite
    unless `allow_inf` and > 0 where `positive`; else a `ValueError`."""
    real = not isinstance(value, bool) and isinstance(value, (int, float)) and not math.isnan(value)
    if not (real and (allow_inf or math.isfinite(value)) and (value > 0 or not positive)):
        kind = "a positive" if positive else "a real"
        kind += " number or +-inf" if allow_inf else " finite number"
        raise ValueError(f"Argument `{name}` must be {kind}. Received: {name}={value!r}")
    return float(value)


def check_sample_reduction(sample_reduction):
    if sample_reduction not in ("sum", "mean"):
        raise ValueError(
            "Argument `sample_reduction` must be one of ('sum', 'mean'). "
            f"Received: sample_reduction={sample_reduction!r}"
        )
    return sample_reduction


def prepare(y_true, y_pred, flatten=True):
    """`(y_true, y_pred, out_dtype)`: tensors of one float dtype and shape.

    Half precision is upcast to float32, the loss's dtype too: a per-sample
    sum over thousands of pixels does not fit in float16. With `flatten`,
    inputs come back as `(batch, features)`; a loss whose parameters
    broadcast against the image shape passes `flatten=False`.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    if not keras.backend.is_float_dtype(y_pred.dtype):
        y_pred = ops.cast(y_pred, keras.backend.floatx())
    y_true = ops.convert_to_tensor(y_true, dtype=y_pred.dtype)
    true_shape, pred_shape = tuple(y_true.shape), tuple(y_pred.shape)
    if len(true_shape) != len(pred_shape) or any(
        a is not None and b is not None and a != b for a, b in zip(true_shape, pred_shape)
    ):
        raise ValueError(
            "`y_true` and `y_pred` must have the same shape. Received: "
            f"y_true.shape={true_shape}, y_pred.shape={pred_shape}"
        )
    out_dtype = keras.backend.standardize_dtype(y_pred.dtype)
    if out_dtype in ("float16", "bfloat16"):
        out_dtype = "float32"
        y_true, y_pred = ops.cast(y_true, out_dtype), ops.cast(y_pred, out_dtype)
    if flatten:
        y_true, y_pred = flatten_batch(y_true), flatten_batch(y_pred)
    return y_true, y_pred, out_dtype


def flatten_batch(x):
    """`(batch, d0, ..., dN)` -> `(batch, d0 * ... * dN)` when the sizes are known.

    No value changes, since the losses are reduced over every non-batch
    axis; it is for speed: XLA on CPU does not vectorise a fused
    elementwise-and-reduce loop whose innermost axis has one element, as
    MNIST's `(28, 28, 1)` has (`benchmarks/train_step.py` measures it).
    """
    shape = tuple(x.shape)
    if len(shape) <= 2 or any(d is None for d in shape[1:]):
        return x
    size = math.prod(shape[1:])
    return ops.reshape(x, (-1, size)) if size else x


def reduce_per_sample(values, sample_reduction, out_dtype):
    """Sums or averages elementwise errors over every non-batch axis."""
    check_sample_reduction(sample_reduction)
    if len(values.shape) > 1:
        reduce = ops.sum if sample_reduction == "sum" else ops.mean
        values = reduce(values, axis=tuple(range(1, len(values.shape))))
    return ops.cast(values, out_dtype)


class ReconstructionLoss(keras.losses.Loss):
    """A `Loss` calling a pure per-sample function, as Keras's own wrap theirs.

    Each hyperparameter is also an attribute (`loss.a`); `get_config`
    returns exactly the constructor's arguments.
    """

    def __init__(self, fn, sample_reduction, reduction, name, dtype, **hyperparameters):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self.sample_reduction = check_sample_reduction(sample_reduction)
        # Attributes, read at each call: `loss.a = 50` takes effect.
        self._hyperparameter_names = tuple(hyperparameters)
        for key, value in hyperparameters.items():
            setattr(self, key, value)
        # Kept as given (a policy by its name) so that `get_config`
        # round-trips the argument.
        self._dtype_arg = dtype if dtype is None or isinstance(dtype, str) else dtype.name

    def _hyperparameters(self):
        return {key: getattr(self, key) for key in self._hyperparameter_names}

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, sample_reduction=self.sample_reduction, **self._hyperparameters())

    def get_config(self):
        return {**super().get_config(), **self._hyperparameters(),
                "sample_reduction": self.sample_reduction, "dtype": self._dtype_arg}
