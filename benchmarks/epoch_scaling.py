"""Epoch time on MNIST and how it grows with the data; loader overhead.

    KERAS_BACKEND=jax python -m benchmarks.epoch_scaling

Chen et al.'s MLP VAE with `LogCosh(a=100)`, batch 100, Adam: the
per-sample time of one epoch on the first 10,000, 30,000 and 60,000 MNIST
training digits (in-memory arrays, Keras's own batching), and on 60,000
through `keras_recon.data.ImageBatches` (a `PyDataset`) against the same
arrays. Each figure is the median of `--rounds` rounds that interleave the
feeds, every other round in reverse order (a drift within a round then
favours neither end); a round times, by a callback, the epochs after the
first of one `fit` per feed, as many as make 60,000 images (six of 10k,
two of 30k, one of 60k), so that every timed sample spans about the same
wall time and sees the machine's drift alike; every ratio is the median
of the rounds' own ratios.
The feeds alone are timed too, through a model whose training step does
nothing: what Keras's loop and the feed cost per batch. Writes
`benchmarks/results/epoch_scaling_<backend>.{json,md}`.
"""

import os
import statistics

import keras
from keras import ops

from benchmarks import _harness
from keras_recon import data

# Images timed per feed and round (whole epochs after the first).
TIMED_IMAGES = 60000


class FeedOnly(keras.Model):
    """A model whose training step does nothing: `fit` on it times the
    feed and Keras's loop per batch."""

    def call(self, x):
        return x

    def train_step(self, *args):
        # JAX's trainer passes the state first and takes it back.
        logs = {"zero": ops.zeros(())}
        return (logs, args[0]) if keras.backend.backend() == "jax" else logs


def feed_cost(x, rounds):
    """Median microseconds per batch of the arrays and of `ImageBatches`
    through `fit` with a step that does nothing, in interleaved rounds."""
    model = FeedOnly()
    model.build(x.shape)
    model.compile()
    feeds = {"arrays": (x, {"batch_size": 100, "shuffle": True}),
             "ImageBatches": (data.ImageBatches(x, batch_size=100, seed=0), {})}
    us = {name: [] for name in feeds}
    for r in range(rounds):
        for name in _harness.round_order(feeds, r):
            feed, kwargs = feeds[name]
            timer = _harness.EpochTimer()
            model.fit(feed, epochs=2, verbose=0, callbacks=[timer], **kwargs)
            us[name].append(1e6 * timer.seconds[1] / (len(x) // 100))
    return {name: statistics.median(v) for name, v in us.items()}


def main():
    parser = _harness.argument_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    x, _ = data.load_mnist(args.data_dir, "train")
    model = _harness.mlp_vae()
    model.fit(x[:10000], epochs=1, batch_size=100, verbose=0)  # warm-up

    # Rounds interleave the feeds, so a drift in the machine's speed moves
    # every feed alike. Each measurement leaves out the first epoch of its
    # `fit` call, which pays the call's set-up (Keras wrapping the arrays
    # into a dataset, once per `fit`, not per epoch), then times as many
    # epochs as make 60,000 images. With one timed epoch per
    # feed, a 10k sample lasted about 1.5 s against 9 s for 60k, and this
    # machine's speed moved by up to half within a minute (an ad-hoc run of
    # 8 epochs of 10k on PyTorch: 155 to 235 us per image), which a short
    # sample catches in one state and a long one averages.
    batches = data.ImageBatches(x, batch_size=100, seed=0)
    feeds = {f"arrays, {n:,} images": (x[:n], n, {"batch_size": 100, "shuffle": True})
             for n in (10000, 30000, 60000)}
    feeds["ImageBatches, 60,000 images"] = (batches, len(x), {})
    seconds = {name: [] for name in feeds}
    waits = {name: [] for name in feeds}
    for r in range(args.rounds):
        for name in _harness.round_order(feeds, r):
            feed, n, kwargs = feeds[name]
            timed = TIMED_IMAGES // n
            timer = _harness.EpochTimer()
            model.fit(feed, epochs=1 + timed, verbose=0, callbacks=[timer], **kwargs)
            seconds[name].append(sum(timer.seconds[1:]) / (n * timed))
            # The waits are per epoch: their mean, spread over one epoch's images.
            waits[name].append(sum(timer.waits[1:]) / timed)
    rows = {}
    steadies = {}
    for name, (_, n, _) in feeds.items():
        steadies[name] = [s - w / n for s, w in zip(seconds[name], waits[name])]
        rows[name] = {"per_image": statistics.median(seconds[name]),
                      "per_image_after_first_batch": statistics.median(steadies[name]),
                      "first_batch_wait_median": statistics.median(waits[name]),
                      "first_batch_wait_max": max(waits[name])}
    for name, row in rows.items():
        # Each round's own ratio (both feeds saw the machine in the same
        # state), then the median over the rounds.
        base = "arrays, 60,000 images" if name.startswith("ImageBatches") else "arrays, 10,000 images"
        for key, values in (("ratio", seconds), ("ratio_after_first_batch", steadies)):
            ratios = sorted(a / b for a, b in zip(values[name], values[base]))
            row[key], row[key + "_range"] = statistics.median(ratios), [ratios[0], ratios[-1]]
    feed_us = feed_cost(x, args.rounds)
    step_us = 100 * rows["arrays, 60,000 images"]["per_image"] * 1e6

    backend = keras.backend.backend()
    note = _harness.machine_note()
    _harness.write_json(os.path.join(args.out, f"epoch_scaling_{backend}.json"), {
        "machine": note,
        "us_per_image": {k: v["per_image"] * 1e6 for k, v in rows.items()},
        "us_per_image_after_first_batch": {k: v["per_image_after_first_batch"] * 1e6 for k, v in rows.items()},
        "first_batch_wait_s": {k: [v["first_batch_wait_median"], v["first_batch_wait_max"]] for k, v in rows.items()},
        "paired_ratios": {k: {"ratio": v["ratio"], "range": v["ratio_range"],
                              "after_first_batch": v["ratio_after_first_batch"],
                              "after_first_batch_range": v["ratio_after_first_batch_range"]}
                          for k, v in rows.items()},
        "feed_only_us_per_batch": feed_us,
        "training_step_us_arrays_60k": step_us,
    })
    lines = [f"# Epoch time on MNIST, {backend}", "",
             f"{_harness.note_line(note)} VAE (MLP), LogCosh(a=100), batch 100; median of {args.rounds} "
             "interleaved rounds (every other one in reverse order), each timing, per feed, the epochs after the "
             "first of one `fit`, as many as make 60,000 images; a ratio is the median of the rounds' own ratios, "
             "with their range. Targets: per-image "
             "cost constant within 10% from 10k to 60k; the loader at most 1.05x the in-memory arrays. \"after the "
             "first batch\" leaves out each epoch's wait from its start to its first batch (the input pipeline "
             "starting), shown in the last column as the median / largest over the rounds of its mean per epoch.", "",
             "| feed | us / image | ratio (range) | us / image after the first batch | ratio (range) | "
             "wait before the first batch (s) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name, row in rows.items():
        against = "vs arrays 60k" if name.startswith("ImageBatches") else "vs 10k"
        lines.append(
            f"| {name} | {row['per_image'] * 1e6:.1f} | {row['ratio']:.2f}x {against} "
            f"({row['ratio_range'][0]:.2f}-{row['ratio_range'][1]:.2f}) | "
            f"{row['per_image_after_first_batch'] * 1e6:.1f} | {row['ratio_after_first_batch']:.2f}x "
            f"({row['ratio_after_first_batch_range'][0]:.2f}-{row['ratio_after_first_batch_range'][1]:.2f}) | "
            f"{row['first_batch_wait_median']:.3f} / {row['first_batch_wait_max']:.3f} |")
    lines += ["", "The feeds alone, through `fit` on a model whose training step does nothing (60,000 images, "
              f"median of {args.rounds} interleaved rounds): arrays {feed_us['arrays']:.0f} us per batch, "
              f"`ImageBatches` {feed_us['ImageBatches']:.0f} us per batch, against a training step of "
              f"{step_us:.0f} us on the arrays above: the loader's own extra cost is "
              f"{100 * (feed_us['ImageBatches'] - feed_us['arrays']) / step_us:.1f}% of a step."]
    _harness.write_markdown(os.path.join(args.out, f"epoch_scaling_{backend}.md"), lines)

if __name__ == "__main__":
    main()
