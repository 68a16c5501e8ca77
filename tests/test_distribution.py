"""Data-parallel training on two virtual CPU devices matches one device.

JAX: `keras.distribution.DataParallel`; TensorFlow: `tf.distribute`.
PyTorch's Keras backend has no built-in data parallelism to test here.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.backend_utils import BACKEND

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(
    BACKEND == "torch", reason="Keras has no data-parallel API on the torch backend"
)


def run_distributed():
    env = dict(
        os.environ,
        KERAS_BACKEND=BACKEND,
        PYTHONPATH=ROOT,
        # Kept with the suite's own flags (`make test` sets the optimisation level).
        XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip(),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "tests.distributed_script"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


TERMS = {
    "VAE": ("loss", "reconstruction", "kl"),
    "WAE": ("loss", "reconstruction", "mmd"),
    "VAE-balanced": ("loss", "reconstruction", "kl", "gamma"),
}


def test_vae_and_wae_on_two_devices_match_one_device():
    results = run_distributed()
    for kind, terms in TERMS.items():
        single, parallel = results[kind]["single"], results[kind]["parallel"]
        assert parallel["replicas"] == 2
        for term in terms:
            if BACKEND == "jax":
                # Same global random stream: the runs agree to rounding.
                np.testing.assert_allclose(parallel[term], single[term], rtol=1e-5, err_msg=f"{kind} {term}")
            elif term in ("loss", "reconstruction"):
                # tf.distribute draws each replica's noise separately, so the
                # curves agree closely, not exactly.
                np.testing.assert_allclose(parallel[term], single[term], rtol=0.02, err_msg=f"{kind} {term}")
            else:
                # The KL of 4 latents after two epochs is below 1, and under
                # tf.distribute each replica estimates the MMD from its own
                # half of the batch (a noisier estimator than the global
                # batch's): compare on an absolute scale.
                np.testing.assert_allclose(parallel[term], single[term], atol=0.25, err_msg=f"{kind} {term}")
    # The balancer's running MSE stays one value across replicas: the same
    # trajectory as on one device (to rounding on JAX, whose global batch is
    # the single device's; closely under tf.distribute, whose replicas draw
    # their own noise), and the model's variable ends at its last value.
    single, parallel = results["VAE-balanced"]["single"], results["VAE-balanced"]["parallel"]
    assert len(parallel["gamma_trajectory"]) == 8
    np.testing.assert_allclose(
        parallel["gamma_trajectory"], single["gamma_trajectory"], rtol=1e-5 if BACKEND == "jax" else 2e-3
    )
    assert parallel["running_mse"] == pytest.approx(parallel["gamma_trajectory"][-1] ** 2, rel=1e-5)
