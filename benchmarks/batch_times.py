"""Every batch's time inside 10k and 60k epochs: does an epoch cost more
per image when it is smaller?

    KERAS_BACKEND=torch python -m benchmarks.batch_times

`benchmarks.epoch_scaling` compares medians of whole epochs. This looks
inside them: Chen et al.'s MLP VAE with `LogCosh(a=100)` and
`keras_recon.optimizers.Adam`, batch 100, fitted for two epochs on the
first 10,000 and then on all 60,000 MNIST training digits, `--repeats`
times alternately; a callback records the time of every batch and the time
from the last batch to the epoch's end. A fixed per-epoch cost would show
as a gap between the epoch's time and the sum of its batches, or as slow
first or last batches. Writes
`benchmarks/results/batch_times_<backend>.{json,md}`.
"""

import os
import statistics

import keras
import numpy as np

from benchmarks import _harness
from keras_recon import data


def main():
    parser = _harness.argument_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    x, _ = data.load_mnist(args.data_dir, "train")
    model = _harness.mlp_vae()
    model.fit(x[:10000], epochs=1, batch_size=100, verbose=0)  # warm-up
    rows = []
    for _ in range(args.repeats):
        for n in (10000, 60000):
            timer = _harness.EpochTimer()
            model.fit(x[:n], epochs=2, batch_size=100, verbose=0, shuffle=True, callbacks=[timer])
            for seconds, batch_seconds, after_last in zip(timer.seconds, timer.batches, timer.after_last):
                batches = np.asarray(batch_seconds) * 1e3
                rows.append({"images": n, "epoch_s": seconds, "us_per_image": seconds / n * 1e6,
                             "sum_of_batches_s": float(batches.sum() / 1e3), "median_batch_ms": float(np.median(batches)),
                             "first_5_ms": batches[:5].round(1).tolist(), "last_5_ms": batches[-5:].round(1).tolist(),
                             "after_last_batch_ms": after_last * 1e3})
    backend = keras.backend.backend()
    note = _harness.machine_note()
    _harness.write_json(os.path.join(args.out, f"batch_times_{backend}.json"), {"machine": note, "epochs": rows})
    per_image = {n: statistics.median(r["us_per_image"] for r in rows if r["images"] == n) for n in (10000, 60000)}
    lines = [f"# Batch times inside 10k and 60k epochs, {backend}", "",
             f"{_harness.note_line(note)} VAE (MLP), LogCosh(a=100), keras_recon's Adam, batch 100; "
             f"two-epoch fits on 10,000 then 60,000 digits, {args.repeats} times.", "",
             "| images | epoch (s) | us / image | sum of batches (s) | median batch (ms) | first 5 batches (ms) "
             "| last 5 batches (ms) | after the last batch (ms) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['images']:,} | {r['epoch_s']:.3f} | {r['us_per_image']:.1f} | {r['sum_of_batches_s']:.3f} | "
                     f"{r['median_batch_ms']:.2f} | {r['first_5_ms']} | {r['last_5_ms']} | "
                     f"{r['after_last_batch_ms']:.1f} |")
    lines += ["", f"Median per image: 10k {per_image[10000]:.1f} us, 60k {per_image[60000]:.1f} us "
              f"({per_image[60000] / per_image[10000]:.2f}x)."]
    _harness.write_markdown(os.path.join(args.out, f"batch_times_{backend}.md"), lines)


if __name__ == "__main__":
    main()
