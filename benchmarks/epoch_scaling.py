"""Epoch time on MNIST and how it grows with the data; loader overhead.

    KERAS_BACKEND=jax python -m benchmarks.epoch_scaling

The seed 000 VAE (MLP) with `LogCosh(a=100)`, batch 100, Adam: the
per-sample time of one epoch on the first 10,000, 30,000 and 60,000 MNIST
training digits (in-memory arrays, Keras's own batching), and on 60,000
through `keras_recon.data.ImageBatches` (a `PyDataset`) against the same
arrays. Each figure is the median of `--rounds` rounds that interleave the
feeds; a round times, by a callback, the second epoch of a two-epoch `fit`. Writes `benchmarks/results/epoch_scaling_<backend>.{json,md}`.
"""

import os
import statistics

import keras

from benchmarks import _harness
from keras_recon import data


def main():
    parser = _harness.argument_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    x, _ = data.load_mnist(args.data_dir, "train")
    model = _harness.seed000_vae()
    model.fit(x[:10000], epochs=1, batch_size=100, verbose=0)  # warm-up

    # Rounds interleave the feeds, so a drift in the machine's speed moves
    # every feed alike. Each measurement is the second epoch of a two-epoch
    # `fit` call: the first pays the call's set-up (Keras wrapping the
    # arrays into a dataset), which users pay once per `fit`, not per epoch.
    batches = data.ImageBatches(x, batch_size=100, seed=0)
    feeds = {f"arrays, {n:,} images": (x[:n], n, {"batch_size": 100, "shuffle": True})
             for n in (10000, 30000, 60000)}
    feeds["ImageBatches, 60,000 images"] = (batches, len(x), {})
    seconds = {name: [] for name in feeds}
    waits = {name: [] for name in feeds}
    for _ in range(args.rounds):
        for name, (feed, n, kwargs) in feeds.items():
            timer = _harness.EpochTimer()
            model.fit(feed, epochs=2, verbose=0, callbacks=[timer], **kwargs)
            seconds[name].append(timer.seconds[1] / n)
            waits[name].append(timer.waits[1])
    rows = {}
    for name, (_, n, _) in feeds.items():
        steady = [s - w / n for s, w in zip(seconds[name], waits[name])]
        rows[name] = {"per_image": statistics.median(seconds[name]),
                      "per_image_after_first_batch": statistics.median(steady),
                      "first_batch_wait_median": statistics.median(waits[name]),
                      "first_batch_wait_max": max(waits[name])}

    backend = keras.backend.backend()
    note = _harness.machine_note()
    _harness.write_json(os.path.join(args.out, f"epoch_scaling_{backend}.json"), {
        "machine": note,
        "us_per_image": {k: v["per_image"] * 1e6 for k, v in rows.items()},
        "us_per_image_after_first_batch": {k: v["per_image_after_first_batch"] * 1e6 for k, v in rows.items()},
        "first_batch_wait_s": {k: [v["first_batch_wait_median"], v["first_batch_wait_max"]] for k, v in rows.items()},
    })
    lines = [f"# Epoch time on MNIST, {backend}", "",
             f"{_harness.note_line(note)} VAE (MLP), LogCosh(a=100), batch 100; median of {args.rounds} "
             "interleaved rounds, each timing the second epoch of a two-epoch `fit` per feed. Targets: per-image cost constant within "
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
