import keras
import numpy as np


def computed_likelihoods(model):
    """The model's likelihood layers whose scale is in "computed" mode."""
    found = []
    for owner in (model, getattr(model, "first", None)):
        layer = getattr(owner, "likelihood", None) if owner is not None else None
        if getattr(layer, "mode", None) == "computed" and layer not in found:
            found.append(layer)
    return found


def _read(variable):
    return float(np.asarray(keras.ops.convert_to_numpy(variable)))


class GammaBalancer(keras.callbacks.Callback):
    """Updates computed likelihood scales from the running minibatch error.

    After every training batch, for each likelihood of the model in
    `"computed"` mode (e.g. `Gaussian(gamma="computed")`):

    ```python
    s <- min(s, decay * s + (1 - decay) * s_batch)     # s starts at 1
    ```

    where `s_batch` is that batch's true statistic (its MSE for a Gaussian,
    so `gamma = sqrt(s)`), as seed 003's code does. The step stores
    `s_batch` in the layer, so the callback never reads Keras's `logs`
    (which hold the epoch's running means, not the batch's). The new value
    is used by the very next step on every backend: on JAX the callback
    syncs the trainer's state first, so its assignment is carried into the
    next jitted step. The current scale is written to `logs["gamma"]`.

    The running value is read from the layer when each epoch begins and
    kept by the callback within the epoch, so other code that assigns
    `running_statistic` during an epoch is overridden until the next one.

    keras_recon models add this callback to `fit` by themselves when they
    have a computed scale; add it yourself to change `decay`.
    `steps_per_execution > 1` is refused: several batches would run between
    two updates.

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
        self._layers = computed_likelihoods(self.model)
        if not self._layers:
            raise ValueError(
                "GammaBalancer found no likelihood with a computed scale: build the "
                "model with e.g. `likelihood=Gaussian(gamma='computed')`."
            )
        steps = getattr(self.model, "steps_per_execution", 1) or 1
        if steps > 1:
            raise ValueError(
                f"GammaBalancer updates the scale after every batch, but the model was "
                f"compiled with steps_per_execution={steps}; compile with "
                "steps_per_execution=1 to use a computed scale."
            )

    def on_epoch_begin(self, epoch, logs=None):
        # The running values are read from the layers once per epoch (after
        # any restore at the start of training) and then kept here: each
        # batch reads only its own statistic and assigns the new value, and
        # the scale is computed on the host (NumPy), since every operation
        # between two steps is paid by every step (on TensorFlow the former
        # three reads and five eager operations took 550-760 us per batch,
        # these 250-350 us; `benchmarks/README.md`). On JAX, Keras has
        # synced its trainer's state into the variables when an epoch ends.
        self._running = [_read(layer.running_statistic) for layer in self._layers]

    def on_train_batch_end(self, batch, logs=None):
        if keras.backend.backend() == "jax":
            # Bring the jitted step's state back into the variables so that the
            # assignment below is what the next step starts from.
            self.model.jax_state_sync()
        scales = []
        for i, layer in enumerate(self._layers):
            running, current = self._running[i], _read(layer.batch_statistic)
            # Rounded to the variable's float32, as a read-back would be.
            updated = float(np.float32(min(running, self.decay * running + (1.0 - self.decay) * current)))
            layer.running_statistic.assign(updated)
            self._running[i] = updated
            scales.append(float(layer.scale_from_statistic(np.float32(updated), xp=np)))
        self.trajectory.append(scales[0] if len(scales) == 1 else scales)
        if logs is not None:
            logs["gamma"] = scales[0]

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.trajectory:
            last = self.trajectory[-1]
            logs["gamma"] = last if not isinstance(last, list) else last[0]
