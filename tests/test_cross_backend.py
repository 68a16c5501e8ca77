"""The same inputs give the same losses and gradients on every backend."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests import cross_backend_script
from tests.backend_utils import BACKEND

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Each backend's suite compares with the next one in this cycle, so the
# three suites compare every pair once (tensorflow-jax, jax-torch,
# torch-tensorflow) and each starts one other backend's process, not two.
# `KERAS_RECON_CROSS_BACKEND=all` compares this backend with both others.
CYCLE = ("tensorflow", "jax", "torch")
if os.environ.get("KERAS_RECON_CROSS_BACKEND") == "all":
    OTHERS = [b for b in CYCLE if b != BACKEND]
else:
    OTHERS = [CYCLE[(CYCLE.index(BACKEND) + 1) % len(CYCLE)]]


def run_under(backend):
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "tests.cross_backend_script"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")][-1]
    payload = json.loads(line[len("RESULT "):])
    assert payload["backend"] == backend
    return payload["results"]


@pytest.mark.parametrize("other", OTHERS)
def test_losses_agree_with_other_backend_to_1e_6(other):
    here = cross_backend_script.compute()
    there = run_under(other)
    assert sorted(here) == sorted(there)
    for name in here:
        for key in ("value", "grad"):
            a = np.asarray(here[name][key])
            b = np.asarray(there[name][key])
            np.testing.assert_allclose(
                a, b, rtol=1e-6, atol=1e-6 * np.abs(a).max(),
                err_msg=f"{name} {key}: {BACKEND} vs {other}",
            )
