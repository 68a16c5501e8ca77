"""How closely two local processes reproduce one process, term by term.

    KERAS_BACKEND=tensorflow python -m benchmarks.multi_process_agreement

Runs `tests/multi_process_script.py` (Chen et al.'s MLP VAE with a computed
Gaussian scale, a WAE and an AE, 8 steps of global batch 64 from the same
weights) as one process and as two local processes, at the same time, and
records each logged term's largest relative difference over the epochs,
the largest weight difference, and the gamma trajectory's. On JAX the two
runs share one global batch and one random stream; on TensorFlow each
replica draws its own noise and estimates the WAE's MMD from its half of
the batch. Writes
`benchmarks/results/multi_process_agreement_<backend>.{json,md}`.
"""

import json
import os
import tempfile

import numpy as np

from benchmarks import _harness
from tests import test_multi_process as launcher

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINDS = ("VAE", "WAE", "AE")


def main():
    import keras

    backend = keras.backend.backend()
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
        launcher.finish(launcher.launch(one, group=False) + launcher.launch(two, group=True))

        def load(folder, kind):
            with open(os.path.join(folder, "0", "result.json")) as f:
                result = json.load(f)[kind]
            with np.load(os.path.join(folder, "0", f"{kind}.npz")) as data:
                result["weights"] = [data[k] for k in data.files]
            return result

        rows = []
        for kind in KINDS:
            a, b = load(one, kind), load(two, kind)
            terms = {t: float(np.max(np.abs(np.subtract(b["history"][t], v)) / np.abs(v)))
                     for t, v in a["history"].items()}
            weights = max(float(np.max(np.abs(y - x))) for x, y in zip(a["weights"], b["weights"]))
            row = {"model": kind, "relative_difference": terms, "weights_max_abs_difference": weights}
            if kind == "VAE":
                row["gamma_trajectory_max_relative_difference"] = float(np.max(
                    np.abs(np.subtract(b["gamma_trajectory"], a["gamma_trajectory"]))
                    / np.abs(a["gamma_trajectory"])))
            rows.append(row)
    note = _harness.machine_note()
    stem = os.path.join(ROOT, "benchmarks", "results", f"multi_process_agreement_{backend}")
    _harness.write_json(stem + ".json", {"machine": note, "rows": rows})
    versions = ", ".join(f"{k} {v}" for k, v in note["versions"].items())
    lines = [
        f"# Two local processes against one, {backend}", "",
        f"{note['date']}, {note['machine']}, {versions}. Command: `{note['command']}`. "
        "Chen et al.'s MLP VAE (computed Gaussian scale), a WAE and an AE, 2 epochs of 4 steps, global batch "
        "64, the same initial weights; largest relative difference over the epochs' logged means.", "",
        "| model | term: relative difference | largest weight difference |",
        "| --- | --- | --- |",
    ]
    for row in rows:
        terms = ", ".join(f"{t} {d:.1e}" for t, d in sorted(row["relative_difference"].items()))
        if "gamma_trajectory_max_relative_difference" in row:
            terms += f", gamma after every step {row['gamma_trajectory_max_relative_difference']:.1e}"
        lines.append(f"| {row['model']} | {terms} | {row['weights_max_abs_difference']:.1e} |")
    with open(stem + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
