"""Prints every loss's value and gradient on fixed inputs as JSON.

Run by `test_cross_backend.py` under each backend in its own process.
"""

import json
import math
import os
import subprocess
import sys

import numpy as np

from keras_recon import losses
from tests.backend_utils import BACKEND
from tests.backend_utils import value_and_grads


def inputs():
    rng = np.random.default_rng(2026)
    y_true = rng.uniform(0, 1, (4, 6, 6, 2)).astype("float32")
    y_true[y_true < 0.25] = 0.0
    y_pred = rng.uniform(0.001, 1, (4, 6, 6, 2)).astype("float32")
    return y_true, y_pred


CASES = {
    "log_cosh": lambda t, p: losses.log_cosh(t, p, a=100.0),
    "log_cosh_autodiff": lambda t, p: losses.log_cosh(t, p, a=3.0, surrogate_gradient=False),
    "squared_error": losses.squared_error,
    "absolute_error": losses.absolute_error,
    "i_divergence_reverse": lambda t, p: losses.i_divergence(t, p, direction="reverse"),
    "i_divergence_forward": lambda t, p: losses.i_divergence(t, p, direction="forward"),
    "beta_divergence_0.5": lambda t, p: losses.beta_divergence(t, p, beta=0.5),
    "beta_divergence_0": lambda t, p: losses.beta_divergence(t, p, beta=0.0),
    "general_robust_1": lambda t, p: losses.general_robust(t, p, alpha=1.0, scale=0.1),
    "general_robust_-inf": lambda t, p: losses.general_robust(t, p, alpha=-math.inf, scale=0.2),
    "general_robust_3.5": lambda t, p: losses.general_robust(t, p, alpha=3.5, scale=0.5),
}


def _adaptive_robust():
    from keras_recon import likelihoods

    layer = likelihoods.AdaptiveRobust()
    layer.build((None, 6, 6, 2))
    return layer


def compute(compiled=False):
    """Every case's value and its gradient in `y_pred`; `compiled` runs each
    under `jax.jit` or `tf.function(jit_compile=True)` and adds the
    `AdaptiveRobust` likelihood, called as the models call it."""
    y_true, y_pred = inputs()
    cases = dict(CASES, adaptive_robust=_adaptive_robust()) if compiled else CASES
    out = {}
    for name, fn in cases.items():
        value, (_, grad) = value_and_grads(fn, y_true, y_pred, compiled=compiled)
        out[name] = {"value": value.tolist(), "grad": grad.ravel().tolist()}
    return out


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_in_subprocess(backend, compiled=False, **env):
    """`compute(compiled)` under `backend` in its own process, with `env`
    overriding the environment (a blank `XLA_FLAGS` is dropped: XLA reads
    it as a file name)."""
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=ROOT, **env)
    if not env.get("XLA_FLAGS", "x").strip():
        del env["XLA_FLAGS"]
    proc = subprocess.run(
        [sys.executable, "-m", "tests.cross_backend_script", *(["--compiled"] if compiled else [])],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")][-1]
    payload = json.loads(line[len("RESULT "):])
    assert payload["backend"] == backend
    return payload["results"]


def assert_agree(here, there, what):
    """Every case's value and gradient in `here` equal `there`'s to 1e-6
    relative (of the largest entry, for the absolute floor)."""
    assert sorted(here) == sorted(there)
    for name in here:
        for key in ("value", "grad"):
            a, b = np.asarray(here[name][key]), np.asarray(there[name][key])
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6 * np.abs(a).max(), err_msg=f"{name} {key}: {what}")


if __name__ == "__main__":
    results = compute(compiled="--compiled" in sys.argv[1:])
    print("RESULT " + json.dumps({"backend": BACKEND, "results": results}))
