"""Epoch time on MNIST and how it grows with the data; loader overhead.

    KERAS_BACKEND=jax python -m benchmarks.epoch_scaling

The seed 000 VAE (MLP) with `LogCosh(a=100)`, batch 100, Adam: the
per-sample time of one epoch on the first 10,000, 30,000 and 60,000 MNIST
training digits (in-memory arrays, Keras's own batching), and on 60,000
through `keras_recon.data.ImageBatches` (a `PyDataset`) against the same
arrays. Each figure is the median of `--rounds` epochs after a warm-up
epoch. Writes `benchmarks/results/epoch_scaling_<backend>.{json,md}`.
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

    def timed(feed, n, **kwargs):
        runs = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            model.fit(feed, epochs=1, verbose=0, **kwargs)
            runs.append((time.perf_counter() - start) / n)
        return statistics.median(runs)

    rows = {}
    for n in (10000, 30000, 60000):
        rows[f"arrays, {n:,} images"] = timed(x[:n], n, batch_size=100, shuffle=True)
    batches = data.ImageBatches(x, batch_size=100, seed=0)
    model.fit(batches, epochs=1, verbose=0)  # warm-up of the PyDataset path
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
             "epochs after a warm-up. Targets: per-image cost constant within 10% from 10k to 60k; "
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
