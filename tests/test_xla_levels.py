"""XLA's LLVM optimisation level does not change what the losses compute.

`make test` compiles XLA with `--xla_backend_optimization_level=0` (the
suite's small models spend most of their time compiling); users and the
benchmarks run at XLA's default. Every loss of the cross-backend cases and
the `AdaptiveRobust` likelihood, compiled, with the gradient in `y_pred`,
must agree between the two levels as closely as the backends agree with
each other (`test_cross_backend.py`). This process computes at its own
level and one subprocess at the other.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests import cross_backend_script
from tests.backend_utils import BACKEND

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEVEL = "--xla_backend_optimization_level"

pytestmark = pytest.mark.skipif(BACKEND == "torch", reason="PyTorch does not compile with XLA")


def _other_level_flags():
    """XLA_FLAGS for the other level: without a level flag if this process
    runs at level 0, else with level 0."""
    flags = os.environ.get("XLA_FLAGS", "").split()
    others = [f for f in flags if not f.startswith(LEVEL)]
    if f"{LEVEL}=0" not in flags:
        others.append(f"{LEVEL}=0")
    return " ".join(others)


def test_compiled_losses_agree_across_xla_optimisation_levels():
    env = dict(os.environ, KERAS_BACKEND=BACKEND, PYTHONPATH=ROOT, XLA_FLAGS=_other_level_flags())
    if not env["XLA_FLAGS"]:
        del env["XLA_FLAGS"]  # XLA reads a blank value as a file name
    proc = subprocess.run(
        [sys.executable, "-m", "tests.cross_backend_script", "--compiled"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")][-1]
    there = json.loads(line[len("RESULT "):])["results"]
    here = cross_backend_script.compute(compiled=True)
    assert sorted(here) == sorted(there) and "adaptive_robust" in here
    for name in here:
        for key in ("value", "grad"):
            a, b = np.asarray(here[name][key]), np.asarray(there[name][key])
            np.testing.assert_allclose(
                a, b, rtol=1e-6, atol=1e-6 * np.abs(a).max(), err_msg=f"{name} {key} ({env.get('XLA_FLAGS')!r})"
            )
