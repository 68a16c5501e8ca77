"""Two local CPU processes train as one process does on the same global batches.

JAX: `jax.distributed` (gloo collectives) with `keras.distribution.DataParallel`;
TensorFlow: `MultiWorkerMirroredStrategy`, workers on localhost ports. Both
started by `keras_recon.distributed.initialize_from_env` in environments
from `keras_recon.distributed.local_environments`. A lone reference
process runs the same script (`tests/multi_process_script.py`) at the same
time. PyTorch's Keras backend has no multi-process data parallelism.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_recon import distributed
from keras_recon import metrics
from tests.backend_utils import BACKEND

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

needs_engine = pytest.mark.skipif(
    BACKEND == "torch", reason="Keras has no multi-process data parallelism on the torch backend"
)

TIMEOUT = 400


def launch(folder, group, script="tests.multi_process_script", variables=None):
    """Starts `script` as two processes of a group, or as one alone, with
    `variables` added to this process's environment."""
    env = dict(os.environ, KERAS_BACKEND=BACKEND, PYTHONPATH=ROOT, OMP_NUM_THREADS="1", **(variables or {}))
    # One CPU device per process, whatever the suite's XLA_FLAGS say.
    flags = " ".join(f for f in env.get("XLA_FLAGS", "").split() if "device_count" not in f)
    if flags:
        env["XLA_FLAGS"] = flags
    else:
        env.pop("XLA_FLAGS", None)
    return [
        subprocess.Popen([sys.executable, "-m", script, folder], cwd=ROOT, env=e,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for e in distributed.local_environments(2 if group else 1, env)
    ]


def finish(procs):
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=TIMEOUT)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0, out[-4000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    one, two = tmp_path_factory.mktemp("one_process"), tmp_path_factory.mktemp("two_processes")
    procs = launch(str(one), group=False) + launch(str(two), group=True)
    finish(procs)

    def load(folder, index):
        with open(os.path.join(folder, str(index), "result.json")) as f:
            result = json.load(f)
        for kind in ("VAE", "WAE", "AE", "VAE-resumed", "VAE-batches"):
            with np.load(os.path.join(folder, str(index), f"{kind}.npz")) as data:
                result[kind]["weights"] = [data[k] for k in data.files]
        return result

    return load(one, 0), [load(two, 0), load(two, 1)]


def close(kind, term):
    """Tolerance of two processes against one, relative to the value."""
    if BACKEND == "jax" or kind == "AE":
        # One global batch and one random stream: the same sums, reordered.
        return 1e-5
    # tf.distribute draws each replica's noise separately and estimates the
    # MMD from each replica's half of the batch.
    return {"mmd": 0.1, "kl": 0.02}.get(term, 2e-3)


@needs_engine
@pytest.mark.parametrize("kind", ["VAE", "WAE", "AE", "VAE-batches"])
def test_two_processes_reach_the_losses_and_weights_of_one(runs, kind):
    single, (first, second) = runs
    assert single["processes"] == 1 and first["processes"] == 2
    for term, values in single[kind]["history"].items():
        np.testing.assert_allclose(first[kind]["history"][term], values, rtol=close(kind, term),
                                   err_msg=f"{kind} {term}")
        assert second[kind]["history"][term] == first[kind]["history"][term]
    atol = 1e-5 if close(kind, "loss") == 1e-5 else 0.05
    for a, b, c in zip(single[kind]["weights"], first[kind]["weights"], second[kind]["weights"]):
        np.testing.assert_allclose(b, a, atol=atol, err_msg=kind)
        np.testing.assert_array_equal(c, b)


@needs_engine
@pytest.mark.parametrize("kind", ["VAE", "VAE-batches"])
def test_balancer_gamma_agrees_across_processes_and_with_one(runs, kind):
    single, (first, second) = runs
    # 8 steps of the global batch: from arrays or from an `ImageBatches`.
    assert len(first[kind]["gamma_trajectory"]) == len(single[kind]["gamma_trajectory"]) == 8
    # Every process holds the same gamma after every step...
    assert first[kind]["gamma_trajectory"] == second[kind]["gamma_trajectory"]
    if kind == "VAE":
        assert first[kind]["running_mse"] == second[kind]["running_mse"]
    # ...that of the global batch's MSE, as on one process.
    np.testing.assert_allclose(first[kind]["gamma_trajectory"], single[kind]["gamma_trajectory"],
                               rtol=1e-5)


@needs_engine
def test_a_killed_two_process_run_resumes_as_if_uninterrupted(runs):
    _, (first, second) = runs
    for result in (first, second):
        for term, values in result["VAE"]["history"].items():
            # The epoch's running means, restored mid-epoch, sum in another order.
            np.testing.assert_allclose(result["VAE-resumed"]["history"][term], values, rtol=1e-6)
        assert result["VAE-resumed"]["gamma_trajectory"] == result["VAE"]["gamma_trajectory"][-2:]
        for a, b in zip(result["VAE"]["weights"], result["VAE-resumed"]["weights"]):
            np.testing.assert_allclose(b, a, atol=1e-6)


@needs_engine
def test_metrics_of_a_split_test_set_merge_to_one_process_values(runs):
    single, (first, second) = runs
    assert first["metrics"] == second["metrics"]
    merged, whole = first["metrics"], single["metrics"]
    assert merged["count"] == whole["count"] == 200
    for key in ("mean", "covariance"):
        np.testing.assert_allclose(merged[key], whole[key], rtol=1e-12, atol=1e-14, err_msg=key)
    for key in ("ssim", "sharpness"):
        np.testing.assert_allclose(merged[key], whole[key], rtol=1e-6, err_msg=key)


@pytest.mark.parametrize("count", [2, 4])
def test_process_shares_join_back_into_the_global_batches(count):
    x = np.arange(200)
    shares = [distributed.process_share(x, 40, count=count, index=i) for i in range(count)]
    size = 40 // count
    batches = [np.concatenate([share[b * size : (b + 1) * size] for share in shares]) for b in range(5)]
    np.testing.assert_array_equal(np.concatenate(batches), x)
    # The last batch is shorter: 20 rows, 20 / count from each process.
    last = [distributed.process_share(np.arange(100), 40, count=count, index=i)[-20 // count :]
            for i in range(count)]
    np.testing.assert_array_equal(np.concatenate(last), np.arange(80, 100))


def test_process_share_refuses_batches_that_do_not_split_evenly():
    with pytest.raises(ValueError, match="multiple of the 2 processes"):
        distributed.process_share(np.arange(10), 5, count=2, index=0)
    with pytest.raises(ValueError, match="last batch holds 3"):
        distributed.process_share(np.arange(11), 4, count=2, index=0)


def test_merged_feature_statistics_equal_those_of_all_the_features():
    features = np.random.default_rng(0).normal(5.0, 2.0, size=(300, 6))
    parts = [metrics.FeatureStatistics() for _ in range(3)]
    for part, rows in zip(parts, np.array_split(features, 3)):
        for start in range(0, len(rows), 40):
            part.update(rows[start : start + 40])
    merged = parts[0].merge(parts[1]).merge(metrics.FeatureStatistics.from_state(parts[2].state()))
    assert merged.count == 300
    # NumPy's two-pass mean and covariance of all 300 vectors.
    np.testing.assert_allclose(merged.mean, features.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(merged.covariance, np.cov(features.T), rtol=1e-12)


def test_local_environments_join_processes_on_localhost_and_clear_stale_variables():
    stale = {"PATH": "/bin", "TF_CONFIG": "{}", "KERAS_RECON_PROCESS_ID": "7", "KERAS_RECON_COORDINATOR": "h:1"}
    assert distributed.local_environments(1, stale) == [{"PATH": "/bin"}]
    envs = distributed.local_environments(3, stale)
    assert [e["KERAS_RECON_PROCESS_ID"] for e in envs] == ["0", "1", "2"]
    assert all(e["KERAS_RECON_NUM_PROCESSES"] == "3" and e["PATH"] == "/bin" and "TF_CONFIG" not in e
               for e in envs)
    addresses = envs[0]["KERAS_RECON_COORDINATOR"].split(",")
    assert len(set(addresses)) == 3 and all(a.startswith("localhost:") for a in addresses)
    assert len({e["KERAS_RECON_COORDINATOR"] for e in envs}) == 1


def test_one_process_needs_no_initialization(monkeypatch):
    monkeypatch.delenv("KERAS_RECON_NUM_PROCESSES", raising=False)
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert distributed.initialize_from_env() is False
    assert (distributed.process_count(), distributed.process_index(), distributed.is_writer()) == (1, 0, True)
    np.testing.assert_array_equal(distributed.all_gather(np.array([1.5, 2.0])), [[1.5, 2.0]])


@pytest.mark.skipif(BACKEND != "torch", reason="JAX and TensorFlow start their runtime here")
def test_torch_refuses_several_processes():
    with pytest.raises(NotImplementedError, match="no multi-process data parallelism on the torch"):
        distributed.initialize("localhost:1234", 2, 0)


def test_a_tf_data_pipeline_is_sharded_as_arrays_are(monkeypatch):
    tf = pytest.importorskip("tensorflow")
    monkeypatch.setitem(distributed._STATE, "count", 2)
    monkeypatch.setitem(distributed._STATE, "index", 1)
    batches = tf.data.Dataset.range(16).batch(4, drop_remainder=True)
    shard = np.concatenate([b.numpy() for b in distributed.shard_batches(batches)])
    np.testing.assert_array_equal(shard, distributed.process_share(np.arange(16), 4))
