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
from keras_recon import optimizers
from keras_recon.losses import LogCosh
from keras_recon.models import VAE
from keras_recon.models import architectures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = parser.parse_args()
    x, _ = data.load_mnist(args.data_dir, "train")
    keras.utils.set_random_seed(0)
    model = VAE(*architectures.mlp((28, 28, 1), 8), seed=0)
    model.compile(optimizer=optimizers.Adam(1e-3), loss=LogCosh(a=100))
    model.fit(x[:10000], epochs=1, batch_size=100, verbose=0)  # warm-up

    class EpochTimes(keras.callbacks.Callback):
        # Also the wait from the epoch's start to its first batch: where a
        # backend's input pipeline stalls when an epoch's iterator starts.
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_begin(self, batch, logs=None):
            if batch == 0:
                self.waits.append(time.perf_counter() - self.start)

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    def timed(feed, n, **kwargs):
        # Epochs inside one `fit` call, as users train: the per-call set-up
        # (Keras wrapping the arrays into a dataset, about 0.1 s) is paid once
        # per `fit`, not per epoch. The first epoch warms up.
        timer = EpochTimes()
        timer.seconds, timer.waits = [], []
        model.fit(feed, epochs=args.rounds + 1, verbose=0, callbacks=[timer], **kwargs)
        seconds, waits = timer.seconds[1:], timer.waits[1:]
        steady = [s - w for s, w in zip(seconds, waits)]
        return {"per_image": statistics.median(seconds) / n,
                "per_image_after_first_batch": statistics.median(steady) / n,
                "first_batch_wait_median": statistics.median(waits), "first_batch_wait_max": max(waits)}

    rows = {}
    for n in (10000, 30000, 60000):
        rows[f"arrays, {n:,} images"] = timed(x[:n], n, batch_size=100, shuffle=True)
    batches = data.ImageBatches(x, batch_size=100, seed=0)
    rows["ImageBatches, 60,000 images"] = timed(batches, len(x))
    backend = keras.backend.backend()
    note = _harness.machine_note()
    _harness.write_json(os.path.join(args.out, f"epoch_scaling_{backend}.json"), {
        "machine": note,
        "us_per_image": {k: v["per_image"] * 1e6 for k, v in rows.items()},
        "us_per_image_after_first_batch": {k: v["per_image_after_first_batch"] * 1e6 for k, v in rows.items()},
        "first_batch_wait_s": {k: [v["first_batch_wait_median"], v["first_batch_wait_max"]] for k, v in rows.items()},
    })
    lines = [f"# Epoch time on MNIST, {backend}", "",
             f"{note['date']}, {note['machine']}, {', '.join(f'{k} {v}' for k, v in note['versions'].items())}. "
             f"Command: `{note['command']}`. VAE (MLP), LogCosh(a=100), batch 100; median of {args.rounds} "
             "epochs timed inside one `fit` call, after its warm-up epoch. Targets: per-image cost constant within "
             "10% from 10k to 60k; the loader at most 1.05x the in-memory arrays. \"after the first batch\" leaves "
             "out each epoch's wait from its start to its first batch (the input pipeline starting), shown in the "
             "last column as median / largest.", "",
             "| feed | us / image | ratio | us / image after the first batch | ratio | wait before the first batch (s) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name, row in rows.items():
        base = rows["arrays, 60,000 images" if name.startswith("ImageBatches") else "arrays, 10,000 images"]
        against = "vs arrays 60k" if name.startswith("ImageBatches") else "vs 10k"
        lines.append(
            f"| {name} | {row['per_image'] * 1e6:.1f} | {row['per_image'] / base['per_image']:.2f}x {against} | "
            f"{row['per_image_after_first_batch'] * 1e6:.1f} | "
            f"{row['per_image_after_first_batch'] / base['per_image_after_first_batch']:.2f}x | "
            f"{row['first_batch_wait_median']:.3f} / {row['first_batch_wait_max']:.3f} |")
    _harness.write_markdown(os.path.join(args.out, f"epoch_scaling_{backend}.md"), lines)

if __name__ == "__main__":
    main()
