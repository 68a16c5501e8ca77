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


# Keras 2.2's five update rules (keras 2.2.4, keras/optimizers.py, decay 0),
# written out in float64 NumPy from that source. Each takes the gradients of
# every step and the starting weights, and returns the final weights.
def keras22_adam(w, grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, 1):
        lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        w = w - lr_t * m / (np.sqrt(v) + eps)
    return w


def keras22_adagrad(w, grads, lr=1e-2, eps=1e-7):
    a = np.zeros_like(w)
    for g in grads:
        a = a + g**2
        w = w - lr * g / (np.sqrt(a) + eps)
    return w


def keras22_adadelta(w, grads, lr=1.0, rho=0.95, eps=1e-7):
    a, d_a = np.zeros_like(w), np.zeros_like(w)
    for g in grads:
        a = rho * a + (1 - rho) * g**2
        update = g * np.sqrt(d_a + eps) / np.sqrt(a + eps)
        w = w - lr * update
        d_a = rho * d_a + (1 - rho) * update**2
    return w


def keras22_nadam(w, grads, lr=2e-3, b1=0.9, b2=0.999, eps=1e-7, schedule_decay=0.004):
    m, v, m_schedule = np.zeros_like(w), np.zeros_like(w), 1.0
    for t, g in enumerate(grads, 1):
        mu_t = b1 * (1 - 0.5 * 0.96 ** (t * schedule_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * schedule_decay))
        m_schedule_new = m_schedule * mu_t
        m_schedule_next = m_schedule_new * mu_next
        m_schedule = m_schedule_new
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_bar = (1 - mu_t) * g / (1 - m_schedule_new) + mu_next * m / (1 - m_schedule_next)
        w = w - lr * m_bar / (np.sqrt(v / (1 - b2**t)) + eps)
    return w


def keras22_adamax(w, grads, lr=2e-3, b1=0.9, b2=0.999, eps=1e-7):
    m, u = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, 1):
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g))
        w = w - lr / (1 - b1**t) * m / (u + eps)
    return w


KERAS22 = {"adam": keras22_adam, "adagrad": keras22_adagrad, "adadelta": keras22_adadelta,
           "nadam": keras22_nadam, "adamax": keras22_adamax}


def keras22_run(optimizer, steps=15, seed=3):
    """Applies `steps` updates to one (6, 5) variable; returns the optimizer's
    final weights and the Keras 2.2 reference's (per `KERAS22` name) inputs.
    Gradients span 1e-7 to 10 so that where epsilon sits shows."""
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=(6, 5)).astype("float32")
    grads = [(rng.normal(size=(6, 5)) * 10.0 ** rng.integers(-7, 2, size=(6, 5))).astype("float32")
             for _ in range(steps)]
    variable = keras.Variable(w0)
    for g in grads:
        optimizer.apply([keras.ops.convert_to_tensor(g)], [variable])
    return to_numpy(variable), w0.astype("float64"), [g.astype("float64") for g in grads]


@pytest.mark.parametrize("name", sorted(KERAS22))
def test_thesis_optimizers_follow_keras_2_2_rules(name):
    from keras_recon.studies.optimizer_comparison import make_optimizer

    got, w0, grads = keras22_run(make_optimizer(name))
    want = KERAS22[name](w0, grads)
    assert np.max(np.abs(want - w0)) > 1e-3  # the reference moves the weights
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-6)


def test_keras3_adagrad_from_zero_is_not_keras_2_2():
    # Keras 3 divides by sqrt(a + eps): tiny gradients take a far smaller
    # first step than Keras 2.2's g / (|g| + eps), about lr each.
    got, w0, grads = keras22_run(keras.optimizers.Adagrad(1e-2, initial_accumulator_value=0.0, epsilon=1e-7))
    assert np.max(np.abs(got - keras22_adagrad(w0, grads))) > 1e-3


def test_keras3_nadam_is_not_keras_2_2():
    # Keras 3 warms the momentum up with 0.96**t, Keras 2.2 with 0.96**(0.004 t).
    got, w0, grads = keras22_run(keras.optimizers.Nadam(2e-3, epsilon=1e-7))
    assert np.max(np.abs(got - keras22_nadam(w0, grads))) > 1e-4


def test_keras22_nadam_schedule_advances_once_per_fit_step():
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 4)).astype("float32"), rng.random((40, 2)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    optimizer = optimizers.Keras22Nadam()
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(x, y, batch_size=10, epochs=2, verbose=0)
    want = np.prod([0.9 * (1 - 0.5 * 0.96 ** (t * 0.004)) for t in range(1, 9)])
    assert int(to_numpy(optimizer.iterations)) == 8
    np.testing.assert_allclose(float(to_numpy(optimizer._m_schedule)), want, rtol=1e-6)


@pytest.mark.parametrize("cls,kwargs", [
    (optimizers.Keras22Adagrad, {"learning_rate": 0.03, "epsilon": 1e-6, "clipnorm": 1.0}),
    (optimizers.Keras22Nadam, {"learning_rate": 0.001, "beta_1": 0.8, "schedule_decay": 0.002}),
])
def test_keras22_config_round_trip(cls, kwargs):
    optimizer = cls(**kwargs)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(clone) is cls
    assert clone.get_config() == optimizer.get_config()


def test_keras22_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="epsilon"):
        optimizers.Keras22Adagrad(epsilon=-1.0)
    with pytest.raises(ValueError, match="beta_1"):
        optimizers.Keras22Nadam(beta_1=1.0)
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        optimizers.Keras22Nadam(gradient_accumulation_steps=2)
