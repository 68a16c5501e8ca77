"""FID cost: feature extraction plus streamed statistics against the
classifier's forward pass alone, and peak memory at 10,000 and 50,000 images.

    KERAS_BACKEND=jax python -m benchmarks.fid

Throughput: 10,000 MNIST digits (`$KERAS_RECON_DATA/mnist` or
`--data-dir`; the 5,000 embedded digits twice otherwise) through
`keras_recon.metrics.FID.statistics` (forward pass, conversion to NumPy,
float64 running sums) against the same forward passes with their outputs
converted to NumPy and dropped; median of `--rounds` interleaved rounds after
a warm-up. The classifier is `build_classifier()` with its initial weights:
the cost of a forward pass does not depend on the weights' values.

Memory: each of 10,000 and 50,000 images runs in a fresh process that feeds
`FID.statistics` a generator of batches cut from one 10,000-image array
(so the input itself does not grow) and reports its peak resident memory
(`ru_maxrss`, via `os.wait4`). Writes `benchmarks/results/fid_<backend>.{json,md}`.
"""

import argparse
import json
import os
import subprocess
import sys

import keras
import numpy as np

from benchmarks import _harness
from keras_recon.metrics import FID
from keras_recon.metrics.classifier import build_classifier
from keras_recon.metrics.classifier import feature_extractor

BATCH = 500


def images(data_dir):
    from benchmarks.train_step import load

    x, source = load(data_dir)
    if len(x) < 10000:
        x = np.concatenate([x, x])[:10000]
        source += ", repeated to 10,000"
    return x[:10000], source


def extractor():
    keras.utils.set_random_seed(0)
    return feature_extractor(build_classifier())


def stream(x, n):
    for start in range(0, n, BATCH):
        i = start % len(x)
        yield x[i : i + BATCH]


def child(n, data_dir):
    """Runs in a fresh process: statistics of `n` streamed images."""
    x, _ = images(data_dir)
    stats = FID(extractor(), batch_size=BATCH).statistics(stream(x, n))
    assert stats.count == n, stats.count
    print(json.dumps({"count": stats.count}))


def peak_mib(n, data_dir):
    command = [sys.executable, "-m", "benchmarks.fid", "--child", str(n)]
    if data_dir:
        command += ["--data-dir", data_dir]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"FID child with {n} images failed ({proc.returncode})")
    assert json.loads(out.decode().strip().splitlines()[-1])["count"] == n
    return usage.ru_maxrss / 1024  # Linux reports KiB


def main():
    parser = _harness.argument_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        return child(args.child, args.data_dir)
    x, source = images(args.data_dir)
    net = extractor()
    fid = FID(net, batch_size=BATCH)

    def forward_only():
        for batch in stream(x, len(x)):
            keras.ops.convert_to_numpy(net(batch, training=False))

    def statistics():
        fid.statistics(stream(x, len(x)))

    seconds = _harness.interleaved_ratios({"forward": forward_only, "statistics": statistics}, (),
                                          rounds=args.rounds, repeats=1, inner=1)
    ratio = seconds["statistics"] / seconds["forward"]
    peaks = {n: peak_mib(n, args.data_dir) for n in (10000, 50000)}
    growth = peaks[50000] / peaks[10000]
    backend = keras.backend.backend()
    note = _harness.machine_note()
    _harness.write_json(os.path.join(args.out, f"fid_{backend}.json"), {
        "machine": note, "data": source, "seconds_10000": seconds, "ratio": ratio,
        "peak_rss_mib": {str(n): v for n, v in peaks.items()}, "peak_growth_10k_to_50k": growth,
    })
    lines = [f"# FID cost on {backend}", "", _harness.note_line(note) + f" Data: {source}; "
             f"batches of {BATCH}; median of {args.rounds} interleaved rounds after a warm-up.", "",
             "| 10,000 images | seconds | ratio |", "| --- | --- | --- |",
             f"| classifier forward pass alone | {seconds['forward']:.2f} | 1.00x |",
             f"| `FID.statistics` (forward + streamed float64 mean and covariance) | "
             f"{seconds['statistics']:.2f} | {ratio:.2f}x |", "",
             f"Target at most 1.2x: {'met' if ratio <= 1.2 else f'**missed by {ratio - 1.2:.2f}**'}.", "",
             "| images streamed | peak resident memory (MiB) |", "| --- | --- |"]
    lines += [f"| {n:,} | {v:.0f} |" for n, v in peaks.items()]
    lines += ["", f"From 10,000 to 50,000 images the peak changes by {100 * (growth - 1):+.1f}% "
              f"(flat means within 10%: {'met' if abs(growth - 1) <= 0.1 else 'missed'})."]
    _harness.write_markdown(os.path.join(args.out, f"fid_{backend}.md"), lines)


if __name__ == "__main__":
    main()
