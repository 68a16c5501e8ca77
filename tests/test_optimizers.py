"""keras_recon.optimizers.Adam gives Keras's Adam's numbers on every backend."""

import keras
import numpy as np
import pytest

from keras_recon import optimizers
from tests.backend_utils import BACKEND
from tests.backend_utils import to_numpy

SHAPES = [(12, 7), (7,), (7, 3), (3,)]


def run_updates(optimizer, steps=12, dtypes=None, seed=0):
    """Applies `steps` updates of varying gradients; returns the variables
    and the optimizer's own state, as NumPy arrays."""
    rng = np.random.default_rng(seed)
    dtypes = dtypes or ["float32"] * len(SHAPES)
    variables = [
        keras.Variable(rng.normal(size=s).astype(d), dtype=d)
        for s, d in zip(SHAPES, dtypes)
    ]
    for step in range(steps):
        # Gradients of changing size and sign, some exactly zero.
        grads = [
            keras.ops.convert_to_tensor(
                (rng.normal(size=s) * 10.0 ** rng.integers(-4, 2)
                 * (rng.random(s) > 0.1)).astype(d)
            )
            for s, d in zip(SHAPES, dtypes)
        ]
        optimizer.apply(grads, variables)
    return [to_numpy(v) for v in variables], [to_numpy(v) for v in optimizer.variables]


CONFIGS = {
    "default": {},
    "amsgrad": {"amsgrad": True},
    "betas_near_one": {"beta_1": 0.99, "beta_2": 1.0 - 1e-7, "epsilon": 1e-3},
    "beta_1_zero": {"beta_1": 0.0},
    "weight_decay_and_clipnorm": {"weight_decay": 0.1, "clipnorm": 0.5},
    "schedule": {"learning_rate": keras.optimizers.schedules.ExponentialDecay(0.05, 3, 0.5)},
    "accumulation": {"gradient_accumulation_steps": 3},
    "ema": {"use_ema": True, "ema_overwrite_frequency": 4},
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_adam_matches_keras_adam(name):
    kwargs = dict(CONFIGS[name])
    kwargs.setdefault("learning_rate", 0.01)
    ours = run_updates(optimizers.Adam(**kwargs))
    if "learning_rate" in CONFIGS[name]:  # a fresh schedule for the reference
        kwargs["learning_rate"] = keras.optimizers.schedules.ExponentialDecay(0.05, 3, 0.5)
    keras_own = run_updates(keras.optimizers.Adam(**kwargs))
    for got, want in zip(ours[0] + ours[1], keras_own[0] + keras_own[1]):
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7)


def test_adam_moves_the_variables():
    # Guards the comparison above against both optimizers doing nothing.
    before, _ = run_updates(optimizers.Adam(0.01), steps=0)
    after, _ = run_updates(optimizers.Adam(0.01))
    assert all(np.max(np.abs(a - b)) > 1e-3 for a, b in zip(after, before))


def test_mixed_dtypes_take_the_generic_update_with_keras_numbers():
    dtypes = ["float32", "float64", "float32", "float64"]
    ours = run_updates(optimizers.Adam(0.01), dtypes=dtypes)
    keras_own = run_updates(keras.optimizers.Adam(0.01), dtypes=dtypes)
    for got, want in zip(ours[0], keras_own[0]):
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7)


@pytest.mark.skipif(BACKEND != "torch", reason="the fused kernel is PyTorch's")
def test_pytorch_update_runs_the_fused_kernel(monkeypatch):
    import importlib

    adam_module = importlib.import_module("torch.optim.adam")
    calls = []
    real = adam_module.adam

    def spy(*args, **kwargs):
        calls.append(kwargs["fused"])
        return real(*args, **kwargs)

    monkeypatch.setattr(adam_module, "adam", spy)
    run_updates(optimizers.Adam(0.01), steps=3)
    assert calls == [True, True, True]


@pytest.mark.parametrize("beta", [1.0, -0.1, 1.5])
def test_betas_outside_zero_one_are_refused(beta):
    with pytest.raises(ValueError, match="beta_1"):
        optimizers.Adam(beta_1=beta)
    with pytest.raises(ValueError, match="beta_2"):
        optimizers.Adam(beta_2=beta)


def test_config_round_trip_and_registered_name():
    adam = optimizers.Adam(0.003, beta_2=0.99, amsgrad=True, clipnorm=1.0)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(adam))
    assert type(clone) is optimizers.Adam
    assert clone.get_config() == adam.get_config()


def test_fit_save_and_load_resume_identically(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.random((64, 12)).astype("float32")
    y = x @ rng.normal(size=(12, 3)).astype("float32")

    def model():
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((12,)), keras.layers.Dense(7, "tanh"), keras.layers.Dense(3)])
        m.compile(optimizer=optimizers.Adam(0.01), loss="mse")
        return m

    m = model()
    first = m.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history["loss"]
    assert first[-1] < first[0]
    m.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer) is optimizers.Adam
    more = m.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0).history["loss"]
    resumed = loaded.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(resumed, more, rtol=1e-5)
