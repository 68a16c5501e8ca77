"""Peak resident memory of the main job and of full-MNIST VAE training,
and whether memory grows from epoch 2 to epoch 20.

    KERAS_BACKEND=jax python -m benchmarks.memory

Two measurements, each in its own process so one cannot inflate the other:

- the README's main job, `keras-recon compare --epochs 40` on the embedded
  digits (`--main-epochs` shortens it), its peak resident memory from
  `os.wait4` (`ru_maxrss` of the finished process);
- Chen et al.'s MLP VAE, `LogCosh(a=100)`, Adam, batch 100, on the 60,000
  MNIST training digits (`$KERAS_RECON_DATA/mnist` or `--data-dir`) for
  `--epochs` epochs (20), with the resident memory read from
  `/proc/self/status` at the end of every epoch.

The target: resident memory at the end of epoch 20 within 10% of epoch 2.
Writes `benchmarks/results/memory_<backend>.{json,md}`.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import keras

from benchmarks import _harness
from keras_recon import optimizers


def training_child(data_dir, epochs):
    from keras_recon import data
    from keras_recon.losses import LogCosh
    from keras_recon.models import VAE
    from keras_recon.models import architectures

    x, _ = data.load_mnist(data_dir, "train")
    keras.utils.set_random_seed(0)
    model = VAE(*architectures.mlp((28, 28, 1), 8), seed=0)
    model.compile(optimizer=optimizers.Adam(1e-3), loss=LogCosh(a=100))
    per_epoch = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            per_epoch.append(_harness.rss_mib()[0])

    history = model.fit(x, epochs=epochs, batch_size=100, verbose=0, callbacks=[Record()])
    print(json.dumps({"images": len(x), "rss_mib": per_epoch, "peak_mib": _harness.rss_mib()[1],
                      "final_loss": history.history["loss"][-1]}))


def run_measured(command):
    """Runs `command`; returns (stdout, peak resident MiB of that process)."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {code}")
    return out.decode(), usage.ru_maxrss / 1024


def main():
    parser = _harness.argument_parser(__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--main-epochs", type=int, default=40)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return training_child(args.data_dir, args.epochs)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the comparison is epoch 2 against the last)")
    with tempfile.TemporaryDirectory() as tmp:
        main_command = [os.path.join(os.path.dirname(sys.executable), "keras-recon"), "compare",
                        "--epochs", str(args.main_epochs), "--out", tmp]
        _, main_peak = run_measured(main_command)
    command = [sys.executable, "-m", "benchmarks.memory", "--child", "--epochs", str(args.epochs)]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    out, train_peak = run_measured(command)
    child = json.loads(out.strip().splitlines()[-1])
    rss = child["rss_mib"]
    growth = rss[-1] / rss[1]
    backend = keras.backend.backend()
    note = _harness.machine_note()
    _harness.write_json(os.path.join(args.out, f"memory_{backend}.json"), {
        "machine": note, "main_job": {"command": " ".join(["keras-recon"] + main_command[1:3]),
                                      "peak_rss_mib": main_peak},
        "training": {**child, "peak_rss_mib_wait4": train_peak, "growth_epoch2_to_last": growth},
    })
    lines = [f"# Memory on {backend}", "", _harness.note_line(note), "",
             "| run | peak resident memory (MiB) |", "| --- | --- |",
             f"| main job, `keras-recon compare --epochs {args.main_epochs}` (embedded digits, "
             f"three VAEs, FID, reports) | {main_peak:.0f} |",
             f"| VAE (MLP), `LogCosh(a=100)`, {child['images']:,} MNIST digits, {args.epochs} epochs "
             f"| {train_peak:.0f} |", "",
             "Resident memory at the end of each epoch of the second run (MiB):", "",
             "| epoch | " + " | ".join(str(i + 1) for i in range(len(rss))) + " |",
             "| --- | " + " | ".join("---" for _ in rss) + " |",
             "| RSS | " + " | ".join(f"{v:.0f}" for v in rss) + " |", "",
             f"Epoch {len(rss)} against epoch 2: {100 * (growth - 1):+.1f}% (target within 10%: "
             f"{'met' if abs(growth - 1) <= 0.1 else '**missed**'})."]
    _harness.write_markdown(os.path.join(args.out, f"memory_{backend}.md"), lines)


if __name__ == "__main__":
    main()
