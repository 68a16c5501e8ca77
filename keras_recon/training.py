"""Training that survives being killed, and stops cleanly when the loss is NaN.

`fit_resumable` trains like `model.fit(x, epochs=..., batch_size=...)` with
Keras's own progress bars, but draws each epoch's order from `(seed, epoch)`
and writes a checkpoint every `checkpoint_every` steps and at every epoch's
end. A checkpoint is one `.npz` holding every model, optimizer and metric
variable (the VAE's noise generator and the balancer's running MSE
included) and the position `(epoch, step)`, written to a temporary file
and renamed, so a kill at any instant leaves either the previous or the
new checkpoint, never half of one. Run again with `resume=True` and
training continues from the step after the checkpoint, with the same batch
order: it finishes after the same number of steps as an uninterrupted run,
with the same weights on a deterministic backend.

A minibatch whose loss is NaN or infinite stops training: the weights of
the last checkpoint (the last good state) are put back and
`TrainingDiverged` names the epoch and the step.
"""

import json
import math
import os
import zipfile

import keras
import numpy as np

from keras_recon import backend
from keras_recon import distributed


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the model holds its last good weights."""

    def __init__(self, message, epoch, step):
        super().__init__(message)
        self.epoch, self.step = epoch, step


def _variables(model):
    # Model variables include the seed generators' states and non-trainable
    # statistics (the balancer's running MSE); the optimizer's follow.
    variables = list(model.variables)
    if getattr(model, "optimizer", None) is not None:
        variables += list(model.optimizer.variables)
    return variables


def _numpy(v):
    return np.asarray(keras.ops.convert_to_numpy(v))


def _ensure_built(model, x, batch_size):
    if not getattr(model, "compiled", False):
        raise ValueError("Compile the model before `fit_resumable`")
    if not model.built:
        model(x[:batch_size])
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)


def save_checkpoint(path, model, state):
    """Writes the model, optimizer and metric variables and `state` atomically.

    With several processes (`keras_recon.distributed`), every process holds
    the same values and process 0 alone writes; all return once it has.
    """
    arrays = {f"v{i}": _numpy(v) for i, v in enumerate(_variables(model))}
    # The running means behind the logged metrics: some appear only after
    # the first step, so they are restored only where the counts agree.
    arrays.update({f"m{i}": _numpy(v) for i, v in enumerate(model.metrics_variables)})
    arrays["state"] = np.array(json.dumps(state))
    if distributed.is_writer():
        tmp = path + ".tmp.npz"
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    # No process reads the file (a resume, a restore after NaN) before it is whole.
    distributed.barrier()


def load_checkpoint(path, model):
    """Restores the variables saved by `save_checkpoint`; returns its state.

    The model and its optimizer must be built, as `fit_resumable` does.
    With several processes, every process reads the file.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            state = json.loads(str(data["state"]))
            variables = _variables(model)
            count = sum(1 for k in data.files if k.startswith("v"))
            if count != len(variables):
                raise ValueError(
                    f"{path}: holds {count} variables but the model has {len(variables)}; "
                    "it was written by a different model or settings (or the model and its "
                    "optimizer are not built yet)"
                )
            for i, v in enumerate(variables):
                value = data[f"v{i}"]
                if tuple(value.shape) != tuple(v.shape):
                    raise ValueError(
                        f"{path}: variable {v.path} has shape {tuple(v.shape)} but the checkpoint "
                        f"holds {tuple(value.shape)}; it was written by a different model or settings"
                    )
                v.assign(value)
            metrics = [k for k in data.files if k.startswith("m")]
            if len(metrics) == len(model.metrics_variables):
                for i, v in enumerate(model.metrics_variables):
                    if tuple(data[f"m{i}"].shape) == tuple(v.shape):
                        v.assign(data[f"m{i}"])
    except (OSError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable checkpoint ({e})") from e
    return state


class _Watch(keras.callbacks.Callback):
    """Counts steps, checkpoints every `every` steps, stops on a bad loss."""

    def __init__(self, path, every, epoch, start, history, metric_values, steps):
        super().__init__()
        self.path, self.every, self.epoch, self.step, self.steps = path, every, epoch, start, steps
        self.history, self.metric_values = history, metric_values
        self.bad = None

    def on_epoch_begin(self, epoch, logs=None):
        # `fit` resets the metrics before this; a mid-epoch resume puts back
        # the running means of the interrupted epoch, so the epoch's logged
        # averages equal an uninterrupted run's.
        if self.metric_values is not None:
            for v, value in zip(self.model.metrics_variables, self.metric_values):
                v.assign(value)

    def on_epoch_end(self, epoch, logs=None):
        # `fit` is given the run's epoch count, so its progress bar reads
        # "Epoch 14/40"; each call trains one epoch, in this epoch's order.
        self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(_numpy(loss))):
            self.bad = (self.epoch, self.step)
            self.model.stop_training = True
            return
        if self.path and self.every and self.step % self.every == 0:
            backend.sync_model_state(self.model)
            save_checkpoint(self.path, self.model, {"epoch": self.epoch, "step": self.step,
                                                   "history": self.history, "steps_per_epoch": self.steps})


def fit_resumable(model, x, *, epochs, batch_size, seed=0, checkpoint=None, checkpoint_every=100,
                  resume=False, verbose="auto", callbacks=None):
    """`model.fit(x, ...)` with checkpoints, resume and a NaN stop.

    Args:
        model: A compiled keras_recon model (its targets are its inputs).
        x: Training images, a NumPy array.
        epochs: Number of epochs.
        batch_size: Minibatch size.
        seed: Seed of the per-epoch orders. Defaults to `0`.
        checkpoint: Path of the checkpoint `.npz`, or `None` for none.
        checkpoint_every: Steps between checkpoints (and at each epoch's
            end). Defaults to `100`.
        resume: Continue from `checkpoint` if it exists. Defaults to
            `False`, which starts afresh (overwriting it).
        verbose: As in `fit`.
        callbacks: More callbacks for `fit`.

    With several processes (`keras_recon.distributed`), every process
    passes the same `x` and `batch_size` (the global batch) and trains on
    its share of each batch; process 0 writes the checkpoints and every
    process resumes from them.

    Returns:
        The history, `{metric: [one value per epoch]}`.

    Raises:
        TrainingDiverged: a minibatch loss was NaN or infinite; the model
            holds the last checkpoint's weights (or its starting weights).
    """
    x = np.asarray(x)
    if checkpoint_every is not None and checkpoint_every < 1:
        raise ValueError(f"`checkpoint_every` must be positive. Received: {checkpoint_every}")
    steps = math.ceil(len(x) / batch_size)
    _ensure_built(model, x, batch_size)
    state = {"epoch": 0, "step": 0, "history": {}}
    metric_values = None
    if checkpoint and resume and os.path.exists(checkpoint):
        state = load_checkpoint(checkpoint, model)
        if state.get("steps_per_epoch", steps) != steps:
            raise ValueError(f"{checkpoint}: written with {state['steps_per_epoch']} steps per epoch, now {steps}")
        if 0 < state["step"] < steps:
            metric_values = [_numpy(v) for v in model.metrics_variables]
        if verbose:
            print(f"Resuming from {checkpoint}: epoch {state['epoch'] + 1}, step {state['step']} of {steps}")
    elif checkpoint:
        os.makedirs(os.path.dirname(os.path.abspath(checkpoint)), exist_ok=True)
        # The starting point is the last good state until the first checkpoint.
        save_checkpoint(checkpoint, model, {**state, "steps_per_epoch": steps})
    if not checkpoint:
        good = [_numpy(v) for v in _variables(model)]
    callbacks = list(callbacks or [])
    from keras_recon.callbacks.gamma_balancer import GammaBalancer
    from keras_recon.callbacks.gamma_balancer import computed_likelihoods

    if computed_likelihoods(model) and not any(isinstance(c, GammaBalancer) for c in callbacks):
        # Before the checkpointing callback, so a checkpoint holds this
        # step's update of the running MSE.
        callbacks.append(GammaBalancer())
    history = state["history"]
    for epoch in range(state["epoch"], epochs):
        start = state["step"] if epoch == state["epoch"] else 0
        if start >= steps:
            continue
        order = np.random.default_rng((seed, epoch)).permutation(len(x))[start * batch_size :]
        watch = _Watch(checkpoint, checkpoint_every, epoch, start, history,
                       metric_values if epoch == state["epoch"] else None, steps)
        feed, feed_batch = x[order], batch_size
        if distributed.feeds_share():
            # JAX joins the processes' shares into each global batch.
            feed = distributed.process_share(feed, batch_size)
            feed_batch = batch_size // distributed.process_count()
        result = model.fit(feed, batch_size=feed_batch, epochs=epochs, initial_epoch=epoch,
                           shuffle=False, verbose=verbose, callbacks=callbacks + [watch])
        if watch.bad is not None:
            bad_epoch, bad_step = watch.bad
            if checkpoint:
                back = load_checkpoint(checkpoint, model)
                where = f"the checkpoint at epoch {back['epoch'] + 1}, step {back['step']}"
            else:
                for v, value in zip(_variables(model), good):
                    v.assign(value)
                where = "the starting weights"
            raise TrainingDiverged(
                f"The loss became NaN or infinite at epoch {bad_epoch + 1}, step {bad_step}; "
                f"training stopped and the weights of {where} were restored.",
                bad_epoch, bad_step,
            )
        for key, values in result.history.items():
            history.setdefault(key, []).append(float(values[-1]))
        if checkpoint:
            backend.sync_model_state(model)
            save_checkpoint(checkpoint, model, {"epoch": epoch + 1, "step": 0, "history": history,
                                                "steps_per_epoch": steps})
    return history
