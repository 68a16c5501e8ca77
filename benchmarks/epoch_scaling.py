"""Epoch time on MNIST and how it grows with the data; loader overhead.

    KERAS_BACKEND=jax python -m benchmarks.epoch_scaling

The seed 000 VAE (MLP) with `LogCosh(a=100)`, batch 100, Adam: the
per-sample time of one epoch on the first 10,000, 30,000 and 60,000 MNIST
training digits (in-memory arrays, Keras's own batching), and on 60,000
through `keras_recon.data.ImageBatches` (a `PyDataset`) against the same
arrays. Each figure is the median of `--rounds` epochs, timed by a callback
inside one `fit(epochs=rounds + 1)` call, after its first (warm-up) epoch. Writes `benchmarks/results/epoch_scaling_<backend>.{json,md}`.
"""

import argparse
import os
import statistics
import time

import keras

from benchmarks import _harness
from keras_recon import data
from keras_recon.losses import LogCosh
from keras_recon.models import VAE
from keras_recon.models import architectures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = parser.parse_args()
    x, _ = data.load_mnist(args.data_dir, "train")
    keras.utils.set_random_seed(0)
    model = VAE(*architectures.mlp((28, 28, 1), 8), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=LogCosh(a=100))
    model.fit(x[:10000], epochs=1, batch_size=100, verbose=0)  # warm-up

    class EpochTimes(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    def timed(feed, n, **kwargs):
        # Epochs inside one `fit` call, as users train: the per-call set-up
        # (Keras wrapping the arrays into a dataset, about 0.1 s) is paid once
        # per `fit`, not per epoch. The first epoch warms up.
        timer = EpochTimes()
        timer.seconds = []
        model.fit(feed, epochs=args.rounds + 1, verbose=0, callbacks=[timer], **kwargs)
        return statistics.median(timer.seconds[1:]) / n

    rows = {}
    for n in (10000, 30000, 60000):
        rows[f"arrays, {n:,} images"] = timed(x[:n], n, batch_size=100, shuffle=True)
    batches = data.ImageBatches(x, batch_size=100, seed=0)
    rows["ImageBatches, 60,000 images"] = timed(batches, len(x))
    base = rows["arrays, 10,000 images"]
    arrays60 = rows["arrays, 60,000 images"]
    backend = keras.backend.backend()
    note = _harness.machine_note()
    _harness.write_json(os.path.join(args.out, f"epoch_scaling_{backend}.json"),
                        {"machine": note, "us_per_image": {k: v * 1e6 for k, v in rows.items()}})
    lines = [f"# Epoch time on MNIST, {backend}", "",
             f"{note['date']}, {note['machine']}, {', '.join(f'{k} {v}' for k, v in note['versions'].items())}. "
             f"Command: `{note['command']}`. VAE (MLP), LogCosh(a=100), batch 100; median of {args.rounds} "
             "epochs timed inside one `fit` call, after its warm-up epoch. Targets: per-image cost constant within 10% from 10k to 60k; "
             "the loader at most 1.05x the in-memory arrays.", "",
             "| feed | us / image | epoch of 60,000 (s) | ratio |", "| --- | --- | --- | --- |"]
    for name, seconds in rows.items():
        ratio = seconds / (arrays60 if name.startswith("ImageBatches") else base)
        against = "vs arrays 60k" if name.startswith("ImageBatches") else "vs 10k"
        lines.append(f"| {name} | {seconds * 1e6:.1f} | {seconds * 60000:.1f} | {ratio:.2f}x {against} |")
    with open(os.path.join(args.out, f"epoch_scaling_{backend}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
