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


class _JaxSlots:
    """Carries the running values into JAX's next step without a full sync.

    Between two steps of Keras's JAX `fit`, every variable's value lives in
    the trainer's state, not in the variable. `model.jax_state_sync()`
    writes all of them back and makes the next step gather them all again:
    1.2-1.8 ms per step on a 2-core CPU for seed 000's MLP VAE, a quarter of
    its step (`benchmarks/README.md`). Instead, `model.train_function` (the
    function `fit` calls once per step with the state `(trainable,
    non_trainable, optimizer, metrics)`, as in Keras's guide to custom JAX
    train steps) is wrapped for the duration of `fit`: it keeps the
    non-trainable values each step returns, from which the callback reads
    the batch statistic, and puts the callback's new running values into the
    next step's state. The new values are also written into the copy of the
    state that Keras syncs from (`model._jax_state`), so a sync (at the end
    of an epoch, or by a callback reading the model) stores them too. If
    that copy is not laid out as expected (another Keras version), or the
    state was synced already in this batch, `state()` is None and the
    callback reads and assigns the variables after a sync, as before.
    """

    def __init__(self, model, layers):
        self.model = model
        ids = {id(v): i for i, v in enumerate(model.non_trainable_variables)}
        self.count = len(ids)
        pairs = [(ids.get(id(layer.batch_statistic)), ids.get(id(layer.running_statistic)))
                 for layer in layers]
        self.indices = pairs if all(None not in pair for pair in pairs) else None
        self.pending, self.returned = {}, None
        inner = getattr(model, "train_function", None)
        if self.indices is None or not callable(inner):
            self.indices = None
            return
        restore_train_function(model)
        inner = model.train_function

        def train_function(state, iterator):
            if self.pending and isinstance(state, tuple) and len(state) == 4:
                values = list(state[1])
                for slot, value in self.pending.items():
                    values[slot] = value
                state = (state[0], values, state[2], state[3])
            self.pending = {}
            logs, state = inner(state, iterator)
            self.returned = state[1] if len(state[1]) == self.count else None
            return logs, state

        train_function.keras_recon_inner = inner
        model.train_function = train_function

    def state(self):
        """Keras's copy of the non-trainable values, or None if not usable."""
        if self.indices is None or self.returned is None:
            return None
        if getattr(self.model, "_jax_state_synced", True):
            return None
        copy = getattr(self.model, "_jax_state", None)
        values = copy.get("non_trainable_variables") if isinstance(copy, dict) else None
        if not isinstance(values, list) or len(values) != self.count:
            return None
        return values

    def read(self, i):
        return float(np.asarray(self.returned[self.indices[i][0]]))

    def write(self, copy, i, value):
        import jax

        slot = self.indices[i][1]
        old = self.returned[slot]
        new = np.asarray(value, dtype=np.float32)
        sharding = getattr(old, "sharding", None)
        new = jax.device_put(new, sharding) if sharding is not None else jax.numpy.asarray(new)
        copy[slot] = new
        self.pending[slot] = new


def restore_train_function(model):
    """Removes `_JaxSlots`'s wrapper from `model.train_function`, if any."""
    function = getattr(model, "train_function", None)
    while hasattr(function, "keras_recon_inner"):
        function = function.keras_recon_inner
    if function is not getattr(model, "train_function", None):
        model.train_function = function


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
    is used by the very next step on every backend. On JAX, where `fit`
    keeps the variables' values in the trainer's state between steps, the
    callback wraps `model.train_function` during `fit` to read the batch
    statistic from what each step returns and to hand the new value to the
    next step (see `_JaxSlots`); where the state was synced in the same
    batch, or is not laid out as expected, it falls back to
    `model.jax_state_sync()`, which writes every variable back and costs
    the next step 1-2 ms on a CPU. The current scale is written to
    `logs["gamma"]`.

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
        # Kept here: on JAX, the `model` property syncs the trainer's state.
        self._jax = _JaxSlots(self.model, self._layers) if keras.backend.backend() == "jax" else None

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
        state = self._jax.state() if self._jax is not None else None
        if self._jax is not None and state is None:
            # Bring the jitted step's state back into the variables so that the
            # assignment below is what the next step starts from.
            self.model.jax_state_sync()
        scales = []
        for i, layer in enumerate(self._layers):
            current = _read(layer.batch_statistic) if state is None else self._jax.read(i)
            running = self._running[i]
            # Rounded to the variable's float32, as a read-back would be.
            updated = float(np.float32(min(running, self.decay * running + (1.0 - self.decay) * current)))
            if state is None:
                layer.running_statistic.assign(updated)
            else:
                self._jax.write(state, i, updated)
            self._running[i] = updated
            scales.append(float(layer.scale_from_statistic(np.float32(updated), xp=np)))
        self.trajectory.append(scales[0] if len(scales) == 1 else scales)
        if logs is not None:
            logs["gamma"] = scales[0]

    def on_train_end(self, logs=None):
        if self._jax is not None:
            restore_train_function(self._jax.model)
            self._jax = None

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.trajectory:
            last = self.trajectory[-1]
            logs["gamma"] = last if not isinstance(last, list) else last[0]
