import keras


def computed_likelihoods(model):
    """The model's likelihood layers whose scale is in "computed" mode."""
    found = []
    for owner in (model, getattr(model, "first", None)):
        layer = getattr(owner, "likelihood", None) if owner is not None else None
        if getattr(layer, "mode", None) == "computed" and layer not in found:
            found.append(layer)
    return found


class GammaBalancer(keras.callbacks.Callback):
    """Sets and records the running-error balance of computed likelihood scales.

    A likelihood in `"computed"` mode (e.g. `Gaussian(gamma="computed")`)
    updates its running statistic in every training step, after computing
    that step's loss with the previous value:

    ```python
    s <- min(s, decay * s + (1 - decay) * s_batch)     # s starts at 1
    ```

    where `s_batch` is the batch's true statistic (its MSE for a Gaussian,
    so `gamma = sqrt(s)`), as Asperti and Trentin's code does. The update
    is a variable assignment inside the step, so it is part of the compiled
    step on every backend. This callback sets `decay` on each such layer
    when training begins and records, after every step, the scale the next
    step uses (`trajectory`), from the metric the layer reports it through
    (`logs["gamma"]` for a Gaussian, `logs["b"]` for a Laplace), which
    Keras hands to callbacks as floats. It reads no variable between
    steps.

    keras_recon models add this callback to `fit` by themselves when they
    have a computed scale; add it yourself to change `decay`.

    Args:
        decay: Weight of the old estimate. Defaults to `0.99`.
    """

    def __init__(self, decay=0.99):
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"Argument `decay` must be in [0, 1). Received: decay={decay}")
        self.decay = float(decay)
        self.trajectory = []

    def on_train_begin(self, logs=None):
        layers = computed_likelihoods(self.model)
        if not layers:
            raise ValueError(
                "GammaBalancer found no likelihood with a computed scale: build the "
                "model with e.g. `likelihood=Gaussian(gamma='computed')`."
            )
        for layer in layers:
            layer.decay.assign(self.decay)
        self._names = [layer.scale_name for layer in layers]

    def on_train_batch_end(self, batch, logs=None):
        if logs is not None and all(name in logs for name in self._names):
            scales = [float(logs[name]) for name in self._names]
            self.trajectory.append(scales[0] if len(scales) == 1 else scales)
