"""Scale handling shared by the Gaussian and Laplace likelihoods."""

import math

import keras
from keras import ops

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
    over a trailing axis of size 1 (MNIST's channel axis). Maps are the
    per-element parameters (shape `()` or the sample shape); if one has any
    other shape, or a size is unknown while tracing, nothing is flattened.
    """
    sample_shape = tuple(y_true.shape[1:])
    size = math.prod(d or 0 for d in sample_shape)
    if len(sample_shape) <= 1 or not size or any(tuple(m.shape) not in ((), sample_shape) for m in maps):
        return (y_true, y_pred) + maps
    flat = tuple(ops.reshape(x, (-1, size)) for x in (y_true, y_pred))
    return flat + tuple(ops.reshape(m, (size,)) if len(m.shape) else m for m in maps)


def pixel_count(x):
    return math.prod(x.shape[1:]) if len(x.shape) > 1 else 1


class LatestValue(keras.metrics.Metric):
    """A metric whose result is the last value given to `update_state`.

    Keras logs a model's metrics after every step, so a value computed
    inside the compiled step reaches callbacks and `History` this way
    without reading any variable back between steps.
    """

    def __init__(self, name, dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        # "mean": under tf.distribute every replica reports the same value.
        self.value = self.add_variable(shape=(), initializer="zeros", aggregation="mean", name="value")

    def update_state(self, value):
        self.value.assign(ops.cast(value, self.dtype))

    def result(self):
        return ops.convert_to_tensor(self.value)


class ScaledLikelihood(keras.layers.Layer):
    """A per-pixel likelihood whose scale is fixed, learned, computed or optimal.

    `statistic(residual)` gives the quantity whose value is the scale's
    maximum-likelihood estimate (the mean squared residual for a Gaussian's
    variance, the mean absolute residual for a Laplace scale).

    - fixed: the scale given as a number.
    - learned: `log scale` is a trainable scalar.
    - computed: the scale is read from a non-trainable running estimate `s`
      of the statistic, starting at 1, which every training step updates
      after computing its loss with the previous value, as in Asperti and
      Trentin's code:
      `s <- min(s, decay * s + (1 - decay) * s_batch)`, `decay` a
      non-trainable variable (0.99; `keras_recon.callbacks.GammaBalancer`
      sets it). Both are variables assigned inside the step, which Keras
      carries from one compiled step to the next on every backend, as it
      does a batch normalisation's moving mean. The scale after each call
      is reported by a metric named after the scale (`logs["gamma"]`).
    - optimal: the scale is the current minibatch's statistic, with its
      gradient (Beckham's log-MSE).
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
            # "mean": under tf.distribute each replica updates from its own
            # part of the batch, and the variable keeps their mean.
            self.running_statistic = self.add_weight(
                name="running_statistic", shape=(), trainable=False, aggregation="mean",
                initializer=keras.initializers.Constant(1.0),
            )
            self.decay = self.add_weight(
                name="decay", shape=(), trainable=False, aggregation="mean",
                initializer=keras.initializers.Constant(0.99),
            )
            self.scale_tracker = LatestValue(self.scale_name)
        self.built = True

    def statistic(self, residual):
        raise NotImplementedError

    def scale_from_statistic(self, statistic):
        """The scale for a value of the statistic."""
        raise NotImplementedError

    def current_scale(self, residual=None):
        """The scale this step uses (the residual is needed for "optimal")."""
        if self.mode == "fixed":
            return ops.convert_to_tensor(float(self.scale))
        if self.mode == "learned":
            return ops.exp(self.log_scale)
        if self.mode == "computed":
            return self.scale_from_statistic(ops.convert_to_tensor(self.running_statistic))
        return self.scale_from_statistic(self.statistic(residual))

    def _update_running_statistic(self, y_true, y_pred, training):
        """The computed mode's update, after the loss has read the scale."""
        if self.mode != "computed":
            return
        if training:
            batch = ops.stop_gradient(self.statistic(y_pred - y_true))
            running, decay = ops.convert_to_tensor(self.running_statistic), ops.convert_to_tensor(self.decay)
            self.running_statistic.assign(ops.minimum(running, decay * running + (1.0 - decay) * batch))
        self.scale_tracker.update_state(self.current_scale())

    def get_config(self):
        config = super().get_config()
        config.update({self.scale_name: self.scale, "initial_scale": self.initial_scale})
        return config
