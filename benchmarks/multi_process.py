"""Training steps per second on one process and on two local processes.

    KERAS_BACKEND=jax python -m benchmarks.multi_process --rounds 2

Chen et al.'s MLP VAE (784-500-500-8, `LogCosh(a=100)`, Adam) on the 5,000
embedded MNIST digits, global batch 100 (50 steps an epoch): one process
alone, then two processes started by `keras_recon.distributed` on
localhost (JAX: gloo collectives, each feeding half of each global batch;
TensorFlow: `MultiWorkerMirroredStrategy`). Each run trains `--epochs`
epochs and times those after the first (which compiles). Rounds alternate
one and two processes; each figure is the median over the rounds. On this
machine's two cores, two processes measure the overhead of the collectives
and of the second process, not a speed-up: the cores are shared with the
one-process run too. Writes
`benchmarks/results/multi_process_<backend>.{json,md}`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GLOBAL_BATCH = 100


def worker(epochs):
    from keras_recon import distributed

    distributed.initialize_from_env()
    import keras
    import numpy as np

    import keras_recon
    from keras_recon.losses import LogCosh
    from keras_recon.models import VAE
    from keras_recon.models import architectures

    x, _ = keras_recon.data.load_embedded_mnist()
    keras.utils.set_random_seed(0)
    model = VAE(*architectures.mlp((28, 28, 1), 8), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=LogCosh(a=100))
    feed, batch = x, GLOBAL_BATCH
    if distributed.feeds_share():
        feed = distributed.process_share(x, GLOBAL_BATCH)
        batch = GLOBAL_BATCH // distributed.process_count()
    times = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    model.fit(feed, batch_size=batch, epochs=epochs, shuffle=False, verbose=0, callbacks=[Clock()])
    steps = int(np.ceil(len(x) / GLOBAL_BATCH))
    if distributed.is_writer():
        print("RESULT " + json.dumps({"processes": distributed.process_count(), "steps_per_epoch": steps,
                                      "epoch_seconds": times[1:]}), flush=True)


def run(processes, epochs):
    from keras_recon import distributed

    envs = distributed.local_environments(processes, dict(os.environ, PYTHONPATH=ROOT))
    command = [sys.executable, "-m", "benchmarks.multi_process", "--worker", "--epochs", str(epochs)]
    procs = [subprocess.Popen(command, cwd=ROOT, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for e in envs]
    outputs = [p.communicate(timeout=1800)[0] for p in procs]
    for p, out in zip(procs, outputs):
        if p.returncode:
            raise RuntimeError(out[-3000:])
    line = [line for line in outputs[0].splitlines() if line.startswith("RESULT ")][-1]
    result = json.loads(line[len("RESULT "):])
    result["steps_per_second"] = result["steps_per_epoch"] / statistics.median(result["epoch_seconds"])
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--worker", action="store_true")
    args = parser.parse_args()
    if args.worker:
        worker(args.epochs)
        return
    import keras

    from benchmarks import _harness

    backend = keras.backend.backend()
    runs = {1: [], 2: []}
    for _ in range(args.rounds):
        for processes in (1, 2):
            runs[processes].append(run(processes, args.epochs))
    rates = {n: [r["steps_per_second"] for r in rs] for n, rs in runs.items()}
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    ratios = [b / a for a, b in zip(rates[1], rates[2])]
    note = _harness.machine_note()
    payload = {"machine": note, "global_batch": GLOBAL_BATCH, "runs": {str(n): rs for n, rs in runs.items()},
               "steps_per_second": {"1": one, "2": two}, "ratio_two_over_one": statistics.median(ratios),
               "ratios": ratios}
    os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
    stem = os.path.join(ROOT, "benchmarks", "results", f"multi_process_{backend}")
    _harness.write_json(stem + ".json", payload)
    load = note["load_average"]
    versions = ", ".join(f"{k} {v}" for k, v in note["versions"].items())
    lines = [
        f"# One process and two local processes, {backend}", "",
        f"{note['date']}, {note['machine']}, {versions}. Command: `{note['command']}`. "
        f"Load average (1, 5, 15 min) {load['start']} at the start, {load['end']} at the end: the CPU is "
        "shared with other work.", "",
        f"Chen et al.'s MLP VAE (784-500-500-8), LogCosh(a=100), Adam, 5,000 MNIST digits, global batch "
        f"{GLOBAL_BATCH} (50 steps an epoch); {args.epochs} epochs per run, the first (compiling) left out; "
        f"median over {args.rounds} rounds that alternate one and two processes.", "",
        "| processes | steps / s | ratio to one process (per round) |",
        "| --- | --- | --- |",
        f"| 1 | {one:.1f} | 1.00x |",
        f"| 2 | {two:.1f} | {statistics.median(ratios):.2f}x ({', '.join(f'{r:.2f}' for r in ratios)}) |",
        "",
        "Two processes on two cores measure the cost of the collectives and of the second process, "
        "not a speed-up: the one-process run already uses both cores.",
    ]
    with open(stem + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
