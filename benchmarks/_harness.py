"""Timing helpers shared by the benchmarks: compiled value-and-gradient per
backend, medians of repeats after warm-up, and the machine note."""

import argparse
import math
import os
import statistics
import time

import keras
import numpy as np

from experiments._record import machine_note as _record_note
from experiments._record import write_json  # noqa: F401

# The load average when this process started: the CPU is shared, and other
# processes' load moves every timing.
_LOAD_AT_START = os.getloadavg()


def machine_note():
    """The machine, versions and command of `experiments._record`, with the
    load average (1, 5 and 15 minutes) when the benchmark started and ended."""
    note = _record_note()
    note["load_average"] = {"start": [round(v, 2) for v in _LOAD_AT_START],
                            "end": [round(v, 2) for v in os.getloadavg()]}
    return note


def value_and_grad_fn(fn, compiled=True, layer=None):
    """`step(y_true, y_pred)` -> (sum of fn, its gradients), blocking until done.

    The gradient is taken in `y_pred`, and, if `layer` is given, in its
    trainable variables too (`fn` calls `layer`; on JAX the variables'
    values are arguments, read through `keras.StatelessScope`, since jit
    treats captured variables as constants). JAX: `jax.jit(jax.value_and_grad)`; TensorFlow:
    `tf.function` with XLA (`jit_compile=True`) when compiled, else eager;
    PyTorch: eager autograd (`torch.compile` of Keras ops did not help on
    this CPU and takes minutes to compile, so eager is what users run),
    where `backward()` fills every trainable variable's gradient anyway.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        variables = [] if layer is None else list(layer.trainable_variables)

        def total(yp, weights, yt):
            with keras.StatelessScope(state_mapping=list(zip(variables, weights))):
                return jnp.sum(fn(yt, yp))

        grad = jax.value_and_grad(total, argnums=(0, 1))
        grad = jax.jit(grad) if compiled else grad
        weights = [v.value for v in variables]

        def step(yt, yp):
            value, grads = grad(yp, weights, yt)
            jax.block_until_ready(grads)
            return value

        return step
    if backend == "tensorflow":
        import tensorflow as tf

        sources = [] if layer is None else list(layer.trainable_variables)

        def raw(yt, yp):
            with tf.GradientTape() as tape:
                tape.watch(yp)
                value = tf.reduce_sum(fn(yt, yp))
            return value, tape.gradient(value, [yp] + sources)

        compiled_fn = tf.function(raw, jit_compile=True) if compiled else raw

        def step(yt, yp):
            value, grads = compiled_fn(yt, yp)
            for g in grads:
                g.numpy()
            return value

        return step

    def step(yt, yp):
        yp = yp.detach().requires_grad_(True)
        value = fn(yt, yp).sum()
        value.backward()
        yp.grad.cpu()
        if layer is not None:
            for v in layer.trainable_variables:
                v.value.grad = None
        return value

    return step


def to_backend(x):
    return keras.ops.convert_to_tensor(x)


def median_seconds(step, *args, repeats=7, warmup=2, inner=5):
    for _ in range(warmup):
        step(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            step(*args)
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times)


def interleaved_ratios(steps, args, rounds=5, min_window=None, **kwargs):
    """Median time of each step, measured in interleaved rounds.

    Each round times every step once (after the warm-up), so slow drifts of
    a shared machine hit all of them alike; the result per step is the
    median over rounds. With `min_window` (seconds), a step runs enough
    calls in each timed window (at least `inner`) for the window to last
    that long by its last warm-up call: a 0.1 ms kernel timed 3 calls at a
    time reads scheduler noise as much as the kernel.
    """
    per = {name: [] for name in steps}
    least = kwargs.pop("inner", 5)
    inner = {}
    for name, step in steps.items():
        warm = median_seconds(step, *args, repeats=1, warmup=2, inner=1)
        inner[name] = least if min_window is None else max(least, math.ceil(min_window / max(warm, 1e-9)))
    for _ in range(rounds):
        for name, step in steps.items():
            per[name].append(median_seconds(step, *args, warmup=0, inner=inner[name], **kwargs))
    return {name: statistics.median(v) for name, v in per.items()}


def add_ratio_column(rows, column, seconds, baseline):
    """Puts one column of timings (`name -> seconds`) into `rows`
    (`name -> {column: {"seconds", "ratio"}}`), each as a ratio to the
    `baseline` entry's time."""
    base = seconds[baseline]
    for name, s in seconds.items():
        rows.setdefault(name, {})[column] = {"seconds": s, "ratio": s / base}
    print(column, {k: round(v / base, 2) for k, v in seconds.items()}, flush=True)


def ratio_table(rows, baseline, label, targets=None):
    """Markdown rows of `add_ratio_column`'s table: the baseline's own time
    in ms, every other entry's ratio; with `targets` (`name -> limit or
    None`) a target column, and "(missed)" beside a ratio over its limit."""
    columns = list(next(iter(rows.values())))
    head = f"| {label} | " + ("target | " if targets is not None else "")
    lines = [head + " | ".join(columns) + " |",
             "| --- | " + ("--- | " if targets is not None else "") + " | ".join("---" for _ in columns) + " |"]
    for name, cells in rows.items():
        target = None if targets is None else targets.get(name)
        if name == baseline:
            values = [f"{cells[c]['seconds'] * 1e3:.3f} ms" for c in columns]
        else:
            values = [f"{cells[c]['ratio']:.2f}x" + (" (missed)" if target is not None and cells[c]["ratio"] > target
                                                      else "") for c in columns]
        limit = "" if targets is None else f"{'' if target is None else f'<= {target}x'} | "
        lines.append(f"| {name} | {limit}" + " | ".join(values) + " |")
    return lines


def round_order(names, r):
    """The candidates of round `r` in order, every other round reversed, so
    that a drift within a round favours neither end."""
    names = list(names)
    return names if r % 2 == 0 else names[::-1]


RESULTS = os.path.join(os.path.dirname(__file__), "results")


def argument_parser(doc, data_dir=True):
    """The flags every benchmark shares: `--out` (the results folder) and,
    for those that read MNIST, `--data-dir`. The description is the first
    line of the script's docstring."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    if data_dir:
        parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=RESULTS)
    return parser


class EpochTimer(keras.callbacks.Callback):
    """Per epoch: its seconds, the wait from its start to its first batch
    (where an input pipeline stalls when an epoch's iterator starts), every
    batch's seconds, and the time from its last batch to its end."""

    def __init__(self):
        super().__init__()
        self.seconds, self.waits, self.batches, self.after_last = [], [], [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = self.last = time.perf_counter()
        self.batches.append([])

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.waits.append(time.perf_counter() - self.start)

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self.batches[-1].append(now - self.last)
        self.last = now

    def on_epoch_end(self, epoch, logs=None):
        end = time.perf_counter()
        self.seconds.append(end - self.start)
        self.after_last.append(end - self.last)


def mlp_vae():
    """Chen et al.'s MLP VAE with `LogCosh(a=100)` and keras_recon's Adam
    (1e-3), compiled, seeded: the model the MNIST benchmarks train."""
    from keras_recon import optimizers
    from keras_recon.losses import LogCosh
    from keras_recon.models import VAE
    from keras_recon.models import architectures

    keras.utils.set_random_seed(0)
    model = VAE(*architectures.mlp((28, 28, 1), 8), seed=0)
    model.compile(optimizer=optimizers.Adam(1e-3), loss=LogCosh(a=100))
    return model


def random_pair(shape, seed=0, non_negative=True):
    rng = np.random.default_rng(seed)
    y_true = rng.uniform(0, 1, shape).astype("float32")
    y_pred = np.clip(y_true + rng.normal(0, 0.1, shape), 1e-3, 1).astype("float32")
    return y_true, y_pred


def note_line(note):
    """The machine, versions and command, as one sentence for a table."""
    versions = ", ".join(f"{k} {v}" for k, v in note["versions"].items())
    load = note.get("load_average")
    load_text = "" if load is None else (
        f" Load average (1, 5, 15 min) {', '.join(f'{v:g}' for v in load['start'])} at the start, "
        f"{', '.join(f'{v:g}' for v in load['end'])} at the end."
    )
    return f"{note['date']}, {note['machine']}, {versions}. Command: `{note['command']}`.{load_text}"


def write_markdown(path, lines):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def rss_mib():
    """(current, peak) resident memory of this process in MiB (Linux)."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]
