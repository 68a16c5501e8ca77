"""Killed runs resume to the same result; NaN stops cleanly; runs repeat."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_recon import cli
from keras_recon import data
from keras_recon import training
from keras_recon.likelihoods import Gaussian
from keras_recon.models import VAE
from keras_recon.models import architectures
from keras_recon.studies import compare

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# 600 images, as every CLI run of the suite that shares `classifier_cache`,
# so that the FID classifier (keyed by the training set) is trained once.
ARGS = ["compare", "--epochs", "2", "--train-images", "600", "--losses", "l2", "--eval-images", "100",
        "--classifier-epochs", "1", "--checkpoint-every", "3", "--latent-dim", "4"]


def _env(classifier_cache):
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend(), KERAS_RECON_CACHE=classifier_cache,
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return env


def _state(path):
    with np.load(path, allow_pickle=False) as f:
        return json.loads(str(f["state"]))


def _comparable(path):
    metrics = json.loads(open(path).read())
    results = {k: {m: v for m, v in r.items() if m != "train_seconds"} for k, r in metrics["results"].items()}
    return results, metrics["curves"]


def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path, monkeypatch, classifier_cache):
    env = _env(classifier_cache)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    # The uninterrupted run in this process (a run repeats itself exactly,
    # test_same_seed_same_backend_same_metrics); the killed one in another.
    monkeypatch.setenv("KERAS_RECON_CACHE", classifier_cache)
    cli.main([*ARGS, "--out", str(whole)])
    slow = os.path.join(os.path.dirname(__file__), "slow_cli.py")
    proc = subprocess.Popen([sys.executable, slow, *ARGS, "--out", str(killed)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = killed / "checkpoints" / "squared_L2.npz"
    deadline = time.time() + 300
    try:
        while time.time() < deadline:
            if checkpoint.exists():
                state = _state(checkpoint)
                if state["epoch"] == 1 and 0 < state["step"] < state["steps_per_epoch"]:
                    break
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.01)
        else:
            pytest.fail("no mid-epoch checkpoint within 300 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    state = _state(checkpoint)
    assert 0 < state["step"] < state["steps_per_epoch"], state
    assert not (killed / "metrics.json").exists() and not (killed / "report.md").exists()
    resumed = subprocess.run([sys.executable, "-m", "keras_recon.cli", *ARGS, "--out", str(killed), "--resume"],
                             env=env, capture_output=True, text=True, cwd=ROOT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"step {state['step']} of {state['steps_per_epoch']}" in resumed.stdout
    assert sorted(os.listdir(whole)) == sorted(os.listdir(killed))
    got, want = _comparable(killed / "metrics.json"), _comparable(whole / "metrics.json")
    for label, curves in want[1].items():  # same steps, same per-epoch losses
        for name, values in curves.items():
            assert got[1][label][name] == pytest.approx(values, rel=1e-6)
    for label in want[0]:
        assert got[0][label] == pytest.approx(want[0][label], rel=1e-6)


def test_same_seed_same_backend_same_metrics(tmp_path, monkeypatch, classifier_cache):
    monkeypatch.setenv("KERAS_RECON_CACHE", classifier_cache)
    args = ["compare", "--epochs", "1", "--train-images", "600", "--losses", "logcosh", "--eval-images", "100",
            "--classifier-epochs", "1", "--latent-dim", "4"]
    cli.main(args + ["--out", str(tmp_path / "a")])
    cli.main(args + ["--out", str(tmp_path / "b")])
    a, b = _comparable(tmp_path / "a" / "metrics.json"), _comparable(tmp_path / "b" / "metrics.json")
    assert a == b


def _vae():
    keras.utils.set_random_seed(0)
    model = VAE(*architectures.mlp((28, 28, 1), 4, hidden=(32,)), likelihood=Gaussian(gamma="computed"), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def _weights(model):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in model.variables]


def test_in_process_interrupt_and_resume_is_exact(tmp_path):
    x = data.load_embedded_mnist()[0][:450]
    whole = _vae()
    expected = training.fit_resumable(whole, x, epochs=3, batch_size=100, checkpoint=str(tmp_path / "a.npz"),
                                      checkpoint_every=2, verbose=0)

    class Interrupt(keras.callbacks.Callback):
        count = 0

        def on_train_batch_end(self, batch, logs=None):
            Interrupt.count += 1
            if Interrupt.count == 8:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        training.fit_resumable(_vae(), x, epochs=3, batch_size=100, checkpoint=str(tmp_path / "b.npz"),
                               checkpoint_every=2, verbose=0, callbacks=[Interrupt()])
    resumed = _vae()
    history = training.fit_resumable(resumed, x, epochs=3, batch_size=100, checkpoint=str(tmp_path / "b.npz"),
                                     checkpoint_every=2, resume=True, verbose=0)
    assert history == expected
    for a, b in zip(_weights(whole), _weights(resumed)):
        np.testing.assert_array_equal(a, b)


def test_nan_loss_stops_and_restores_the_last_good_weights(tmp_path):
    x = data.load_embedded_mnist()[0][:500].copy()
    # Poison one image: the step it lands in is fixed by the epoch's order.
    order = np.random.default_rng((0, 0)).permutation(len(x))
    x[order[250]] = np.nan  # epoch 1, step 3 (batches of 100)
    model = _vae()
    checkpoint = str(tmp_path / "c.npz")
    with pytest.raises(training.TrainingDiverged, match="epoch 1, step 3") as info:
        training.fit_resumable(model, x, epochs=3, batch_size=100, checkpoint=checkpoint,
                               checkpoint_every=2, verbose=0)
    assert (info.value.epoch, info.value.step) == (0, 3)
    assert "epoch 1, step 2 were restored" in str(info.value)
    assert all(np.all(np.isfinite(w)) for w in _weights(model))
    reference = _vae()
    reference(x[:1])
    reference.optimizer.build(reference.trainable_variables)
    training.load_checkpoint(checkpoint, reference)
    for a, b in zip(_weights(model), _weights(reference)):
        np.testing.assert_array_equal(a, b)


def test_nan_in_the_cli_keeps_what_was_written(tmp_path, monkeypatch, classifier_cache):
    monkeypatch.setenv("KERAS_RECON_CACHE", classifier_cache)
    x, y = data.load_embedded_mnist()
    poisoned = x[:600].copy()
    poisoned[np.random.default_rng((0, 0)).permutation(600)[150]] = np.nan  # epoch 1, step 2
    clean_x, clean_y = x[:600].copy(), y[:600]

    calls = {"n": 0}

    def fake_load(args):
        calls["n"] += 1
        return clean_x, clean_y, x[4000:4200], y[4000:4200]

    monkeypatch.setattr(compare, "_load", fake_load)
    original = training.fit_resumable

    def counting_fit(model, x, **kwargs):
        # The second loss (L1) trains on the poisoned copy.
        calls["fits"] = calls.get("fits", 0) + 1
        return original(model, poisoned if calls["fits"] == 2 else x, **kwargs)

    monkeypatch.setattr(training, "fit_resumable", counting_fit)
    out = tmp_path / "run"
    with pytest.raises(SystemExit, match="epoch 1, step 2") as info:
        cli.main(["compare", "--epochs", "1", "--losses", "l2,l1", "--eval-images", "100",
                  "--classifier-epochs", "1", "--latent-dim", "4", "--checkpoint-every", "1", "--out", str(out)])
    assert "log-cosh" not in str(info.value)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["results"]) == {"squared L2"}
    assert metrics["stopped"]["unit"] == "L1"
    assert (out / "model_L1_last_good.keras").exists()
    assert not any(name.endswith(".tmp") for name in os.listdir(out))
