"""Every `keras-recon` command under a two-process launch, against one process.

Two local CPU processes (`keras_recon.distributed.local_environments`) and a
lone reference process run `tests/cli_multi_process_script.py` at the same
time: `compare`, `optimizers`, `balance` and `robust` at their smallest
settings, into one run folder per launch. The FID classifier is trained
once here, before, so every run measures with the same one. PyTorch's Keras
backend has no multi-process data parallelism.
"""

import json
import os

import numpy as np
import pytest

from tests.backend_utils import BACKEND
from tests.test_multi_process import finish
from tests.test_multi_process import launch

needs_engine = pytest.mark.skipif(
    BACKEND == "torch", reason="Keras has no multi-process data parallelism on the torch backend"
)

COMMANDS = ("compare", "optimizers", "balance", "robust")
REPORTS = {
    "compare": {"report.md", "metrics.json", "grid_all.png", "training_curves.png", "model_squared_L2.keras"},
    "optimizers": {"report.md", "metrics.json", "grid_best.png"},
    "balance": {"report.md", "metrics.json", "grid_all.png"},
    "robust": {"report.md", "metrics.json", "grid_all.png", "training_curves.png"},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from keras_recon import metrics
    from keras_recon.studies import _common

    cache = str(tmp_path_factory.mktemp("classifier-cache"))
    x, y, _, _ = _common.load_dataset("embedded", limit=200)
    metrics.load_or_train_classifier("embedded-train200", x, y, cache_dir=cache, epochs=1, verbose=0)
    one, two = tmp_path_factory.mktemp("one_process"), tmp_path_factory.mktemp("two_processes")
    variables = {"KERAS_RECON_CACHE": cache}
    if BACKEND == "jax":
        # Compiling dominates these short runs; XLA's cheapest CPU code
        # generation compiles them faster, the same in every process.
        variables["XLA_FLAGS"] = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
    script = "tests.cli_multi_process_script"
    finish(launch(str(one), group=False, script=script, variables=variables)
           + launch(str(two), group=True, script=script, variables=variables))
    return one, two


def results(folder, command):
    with open(folder / command / "metrics.json") as f:
        return json.load(f)["results"]


def figures(row):
    return {k: v for k, v in row.items() if isinstance(v, float) and not k.endswith("seconds")}


@needs_engine
def test_every_command_completes_and_only_process_zero_writes_the_reports(runs):
    _, two = runs
    with open(two / "writes-0.json") as f:
        first = set(json.load(f))
    with open(two / "writes-1.json") as f:
        second = set(json.load(f))
    for command in COMMANDS:
        names = set(os.listdir(two / command))
        assert REPORTS[command] <= names, command
        assert not any(".tmp" in n for n in names), command
        assert {f"{command}/report.md", f"{command}/metrics.json"} <= first
    # Process 1 writes only its own files: those of its own name and
    # temporary copies it removes again.
    assert {p for p in second if os.path.exists(two / p)} == {"helpers-1.json", "writes-1.json"}


def tolerance(command):
    """Relative tolerance of a figure of two processes against one's."""
    if command == "robust" and BACKEND == "jax":
        # Its processes train on seeded `ImageBatches`, one process with
        # Keras's shuffle: another order, so only completion is checked.
        return None
    if BACKEND == "jax" or command == "optimizers":
        # The same global batches and random streams: the weights agree to
        # float32 rounding of reordered sums, and the merged evaluation sums
        # differ from one process's by float64 rounding; 1e-6 leaves room for
        # the float32 rounding of features computed in other batch shapes.
        return 1e-6
    # tf.distribute draws each replica's noise itself: a VAE's training
    # differs from one process's, and only its completion is checked.
    return None


@needs_engine
@pytest.mark.parametrize("command", COMMANDS)
def test_reported_figures_equal_those_of_one_process(runs, command):
    one, two = runs
    single, merged = results(one, command), results(two, command)
    assert set(single) == set(merged)
    rtol = tolerance(command)
    for key, row in single.items():
        expected, actual = figures(row), figures(merged[key])
        assert set(expected) == set(actual) and expected
        if rtol is None:
            assert all(np.isfinite(v) for v in actual.values())
            continue
        for name, value in expected.items():
            np.testing.assert_allclose(actual[name], value, rtol=rtol, atol=1e-6, err_msg=f"{command} {key} {name}")


@needs_engine
def test_split_evaluation_sets_merge_to_the_whole_sets_figures(runs):
    one, two = runs
    parts = []
    for i in (0, 1):
        with open(two / f"helpers-{i}.json") as f:
            parts.append(json.load(f))
    with open(one / "helpers-0.json") as f:
        whole = json.load(f)
    assert [p["rows"] for p in parts] == [50, 51] and whole["rows"] == 101
    assert parts[0] == {**parts[1], "rows": 50}
    for key in ("mean", "std", "feature_mean", "covariance"):
        np.testing.assert_allclose(parts[0][key], whole[key], rtol=1e-12, err_msg=key)
    assert parts[0]["count"] == whole["count"] == 101


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("n,unit", [(101, 1), (1000, 500), (1200, 500), (300, 500)])
def test_evaluation_parts_cover_the_set_once_in_whole_units(monkeypatch, count, n, unit):
    from keras_recon import distributed
    from keras_recon.studies import _common

    rows = []
    monkeypatch.setitem(distributed._STATE, "count", count)
    for index in range(count):
        monkeypatch.setitem(distributed._STATE, "index", index)
        start, stop = _common.evaluation_rows(n, unit)
        assert start % unit == 0 and (stop % unit == 0 or stop == n)
        rows.extend(_common.evaluation_part(np.arange(n), unit))
    np.testing.assert_array_equal(rows, np.arange(n))
