"""Scale handling shared by the Gaussian and Laplace likelihoods."""

import math

import keras
from keras import ops

from keras_recon.losses._common import flatten_batch

MODES = ("fixed", "learned", "computed", "optimal")


def residual_shape_sum(values):
    """Sums elementwise values over every non-batch axis."""
    if len(values.shape) > 1:
        values = ops.sum(values, axis=tuple(range(1, len(values.shape))))
    return values


def as_float32_pair(y_true, y_pred):
    """Both inputs as float32 tensors of one shape, or a `ValueError`.

    Likelihoods compute in float32 whatever the inputs, so that mixed
    precision never evaluates a log-density in half precision.
    """
    y_true = ops.cast(ops.convert_to_tensor(y_true), "float32")
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(
            "`y_true` and `y_pred` must have the same shape. Received: "
            f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}"
        )
    return y_true, y_pred


def flatten_samples(y_true, y_pred, *maps):
    """Inputs as `(batch, features)` and per-element maps as `(features,)`.

    Every likelihood is elementwise and then summed per sample, so no value
    changes; it matters for speed: XLA on CPU does not vectorise fused loops
    over a trailing axis of size 1 (MNIST's channel axis), which made the
    per-pixel adaptive likelihood's VAE step 1.4x the squared error's on JAX
    (`benchmarks/train_step.py`). Maps are the per-element parameters
    (shape `()` or the sample shape); if one has any other shape, nothing
    is flattened.
    """
    sample_shape = tuple(y_true.shape[1:])
    if any(tuple(m.shape) not in ((), sample_shape) for m in maps):
        return (y_true, y_pred) + maps
    flat_true, flat_pred = flatten_batch(y_true), flatten_batch(y_pred)
    if flat_true is y_true:  # rank 2, or a size unknown while tracing
        return (y_true, y_pred) + maps
    size = flat_true.shape[1]
    flat_maps = tuple(ops.reshape(m, (size,)) if len(m.shape) else m for m in maps)
    return (flat_true, flat_pred) + flat_maps


def pixel_count(x):
    return math.prod(x.shape[1:]) if len(x.shape) > 1 else 1


class ScaledLikelihood(keras.layers.Layer):
    """A per-pixel likelihood whose scale is fixed, learned, computed or optimal.

    `statistic(residual)` gives the quantity whose value is the scale's
    maximum-likelihood estimate (the mean squared residual for a Gaussian's
    variance, the mean absolute residual for a Laplace scale).

    - fixed: the scale given as a number.
    - learned: `log scale` is a trainable scalar.
    - computed: the scale is read from a non-trainable running estimate of
      the statistic, updated after each minibatch by
      `keras_recon.callbacks.GammaBalancer` as
      `s <- min(s, 0.99 s + 0.01 s_batch)`, starting at 1 (seed 003's code).
      Each training step stores its true minibatch statistic in
      `batch_statistic` for the callback to read.
    - optimal: the scale is the current minibatch's statistic, with its
      gradient (seed 001's log-MSE).
    """

    scale_name = "scale"

    def __init__(self, scale, initial_scale=1.0, **kwargs):
        # A likelihood computes in float32 under any global policy: mixed
        # precision must not autocast its scale and shape to float16.
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if isinstance(scale, bool) or not (
            isinstance(scale, (int, float)) or scale in MODES[1:]
        ):
            raise ValueError(
                f"Argument `{self.scale_name}` must be a positive number (fixed) or one of "
                f"{MODES[1:]}. Received: {self.scale_name}={scale!r}"
            )
        if isinstance(scale, (int, float)) and not (math.isfinite(scale) and scale > 0):
            raise ValueError(
                f"A fixed `{self.scale_name}` must be finite and positive. "
                f"Received: {self.scale_name}={scale!r}"
            )
        if not (math.isfinite(initial_scale) and initial_scale > 0):
            raise ValueError(f"`initial_scale` must be positive. Received: {initial_scale!r}")
        self.scale = scale
        self.mode = "fixed" if isinstance(scale, (int, float)) else scale
        self.initial_scale = float(initial_scale)
        if self.mode == "learned":
            self.log_scale = self.add_weight(
                name="log_" + self.scale_name, shape=(),
                initializer=keras.initializers.Constant(math.log(self.initial_scale)),
            )
        if self.mode == "computed":
            self.running_statistic = self.add_weight(
                name="running_statistic", shape=(), trainable=False,
                initializer=keras.initializers.Constant(1.0),
            )
            self.batch_statistic = self.add_weight(
                name="batch_statistic", shape=(), trainable=False,
                initializer=keras.initializers.Constant(1.0),
            )
        self.built = True

    def statistic(self, residual):
        raise NotImplementedError

    def scale_from_statistic(self, statistic, xp=ops):
        """The scale for a value of the statistic, in `xp`'s arithmetic
        (`keras.ops` in a step; `numpy` for `GammaBalancer`, which works on
        the host between steps)."""
        raise NotImplementedError

    def current_scale(self, residual=None):
        """The scale this step uses (residual needed for "optimal")."""
        if self.mode == "fixed":
            return ops.convert_to_tensor(float(self.scale))
        if self.mode == "learned":
            return ops.exp(self.log_scale)
        if self.mode == "computed":
            return self.scale_from_statistic(self.running_statistic)
        return self.scale_from_statistic(self.statistic(residual))

    def _rescaled(self, residual):
        """The residual divided by its largest magnitude, and that factor's log.

        Only for the optimal mode, whose scale is a statistic of the batch:
        the likelihood is unchanged by a common factor (`r / scale` and
        `log scale` shift together), but the mean square of huge residuals
        would overflow to inf and give inf / inf. The factor is a constant
        to the gradient, which is therefore exact. Other modes are returned
        as they are, with offset 0.
        """
        if self.mode != "optimal":
            return residual, 0.0
        peak = ops.stop_gradient(ops.max(ops.abs(residual)))
        peak = ops.where(peak > 0, peak, ops.ones_like(peak))
        return residual / peak, ops.log(peak)

    def _prepare(self, y_true, y_pred):
        y_true, y_pred = flatten_samples(*as_float32_pair(y_true, y_pred))
        residual = y_pred - y_true
        if self.mode == "computed":
            self.batch_statistic.assign(ops.stop_gradient(self.statistic(residual)))
        return residual

    def get_config(self):
        config = super().get_config()
        config.update({self.scale_name: self.scale, "initial_scale": self.initial_scale})
        return config
