"""End to end: Chen et al.'s VAE (MLP) training step with each loss, as a
ratio to the same step with the squared error, on one backend.

    KERAS_BACKEND=jax python -m benchmarks.train_step

Each model trains on the first 10,000 digits of MNIST (`--data-dir`, or
`$KERAS_RECON_DATA/mnist`; the 5,000 embedded digits otherwise) with batch
100 and Adam; one epoch warms up (compilation), then `--rounds` epochs
per loss are timed, interleaved. Two figures per loss: the median over
those epochs of their whole time per step, and the median of every step's
own time (a callback's clock from one batch's end to the next), which
leaves out what an epoch pays besides its steps: `fit`'s set-up and the
input pipeline's wait before the first batch, seconds long at times on
TensorFlow (`results/epoch_start_tensorflow.md`) and the same for every
loss. The target is checked on the steps. Writes
`benchmarks/results/train_step_<backend>.{json,md}`.
"""

import os
import statistics
import time

import keras

from benchmarks import _harness
from keras_recon import data
from keras_recon import likelihoods
from keras_recon import losses
from keras_recon import optimizers
from keras_recon.models import VAE
from keras_recon.models import architectures

TARGET = 1.15


def candidates():
    return {
        "SquaredError": lambda: (losses.SquaredError(), None),
        "AbsoluteError": lambda: (losses.AbsoluteError(), None),
        "LogCosh(a=100)": lambda: (losses.LogCosh(a=100), None),
        "IDivergence(forward)": lambda: (losses.IDivergence(direction="forward"), None),
        "BetaDivergence(0.5)": lambda: (losses.BetaDivergence(beta=0.5), None),
        "GeneralRobust(alpha=1)": lambda: (losses.GeneralRobust(alpha=1.0, scale=0.1), None),
        "Gaussian(gamma=computed)": lambda: (None, likelihoods.Gaussian(gamma="computed")),
        "AdaptiveRobust (per pixel)": lambda: (None, likelihoods.AdaptiveRobust()),
    }


def load(data_dir):
    try:
        x, _ = data.load_mnist(data_dir, "train")
        return x[:10000], "MNIST (first 10,000 training digits)"
    except (FileNotFoundError, ValueError):
        return data.load_embedded_mnist()[0], "embedded MNIST (5,000 digits)"


def main():
    parser = _harness.argument_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    x, source = load(args.data_dir)
    steps = len(x) // 100
    models = {}
    for name, make in candidates().items():
        keras.utils.set_random_seed(0)
        loss, likelihood = make()
        model = VAE(*architectures.mlp((28, 28, 1), 8), likelihood=likelihood, seed=0)
        model.compile(optimizer=optimizers.Adam(1e-3), loss=loss)
        model.fit(x, epochs=1, batch_size=100, verbose=0)  # compile and warm up
        models[name] = model
    times = {name: [] for name in models}
    step_times = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            timer = _harness.EpochTimer()
            start = time.perf_counter()
            model.fit(x, epochs=1, batch_size=100, verbose=0, shuffle=False, callbacks=[timer])
            times[name].append((time.perf_counter() - start) / steps)
            step_times[name].extend(timer.batches[0][1:])  # the first holds the wait
    epochs = {name: statistics.median(v) for name, v in times.items()}
    seconds = {name: statistics.median(v) for name, v in step_times.items()}
    base, epoch_base = seconds["SquaredError"], epochs["SquaredError"]
    backend = keras.backend.backend()
    note = _harness.machine_note()
    rows = {name: {"ms_per_step": s * 1e3, "ratio": s / base, "epoch_ms_per_step": epochs[name] * 1e3,
                   "epoch_ratio": epochs[name] / epoch_base} for name, s in seconds.items()}
    _harness.write_json(os.path.join(args.out, f"train_step_{backend}.json"),
                        {"machine": note, "data": source, "target": TARGET, "rows": rows})
    lines = [f"# VAE (MLP) training step on {backend}, ratio to the squared error", "",
             f"{_harness.note_line(note)} {source}, batch 100, Adam, `model.fit`; {args.rounds} "
             "interleaved epochs per loss after a warm-up epoch: the median step (every step of every "
             "epoch but the first of each) and the median epoch's time per step (with `fit`'s set-up and "
             f"the wait for the first batch). Target, on the steps: at most {TARGET}x.", "",
             "| reconstruction term | ms / step | ratio | whole epochs: ms / step | ratio |",
             "| --- | --- | --- | --- | --- |"]
    for name, r in rows.items():
        miss = " (missed)" if r["ratio"] > TARGET else ""
        lines.append(f"| {name} | {r['ms_per_step']:.2f} | {r['ratio']:.2f}x{miss} | "
                     f"{r['epoch_ms_per_step']:.2f} | {r['epoch_ratio']:.2f}x |")
    with open(os.path.join(args.out, f"train_step_{backend}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
