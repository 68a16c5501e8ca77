"""The battery every loss class passes, in the manner of Keras's own tests."""

import keras
import numpy as np
import pytest

from keras_recon import losses
from tests.backend_utils import to_numpy

# Each loss with non-default hyperparameters, so a config round-trip that
# drops an argument is caught.
LOSSES = {
    "LogCosh": lambda **kw: losses.LogCosh(a=100.0, surrogate_gradient=False, **kw),
    "SquaredError": lambda **kw: losses.SquaredError(**kw),
    "AbsoluteError": lambda **kw: losses.AbsoluteError(**kw),
    "IDivergence": lambda **kw: losses.IDivergence(direction=1, epsilon=1e-6, **kw),
    "BetaDivergence": lambda **kw: losses.BetaDivergence(beta=0.5, epsilon=1e-6, **kw),
    "GeneralRobust": lambda **kw: losses.GeneralRobust(alpha=-2.0, scale=0.3, **kw),
}
FUNCTIONS = {
    "LogCosh": lambda t, p: losses.log_cosh(t, p, a=100.0),
    "SquaredError": losses.squared_error,
    "AbsoluteError": losses.absolute_error,
    "IDivergence": lambda t, p: losses.i_divergence(t, p, direction=1, epsilon=1e-6),
    "BetaDivergence": lambda t, p: losses.beta_divergence(t, p, beta=0.5, epsilon=1e-6),
    "GeneralRobust": lambda t, p: losses.general_robust(t, p, alpha=-2.0, scale=0.3),
}
NAMES = sorted(LOSSES)


def images(seed=0, shape=(3, 4, 5, 2)):
    rng = np.random.default_rng(seed)
    y_true = rng.uniform(0.0, 1.0, shape).astype("float32")
    y_true[y_true < 0.3] = 0.0  # exact zeros, as in MNIST
    y_pred = rng.uniform(0.01, 1.0, shape).astype("float32")
    return y_true, y_pred


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trip_keeps_every_argument(name):
    loss = LOSSES[name](sample_reduction="mean", reduction="sum", name="x")
    config = loss.get_config()
    clone = type(loss).from_config(config)
    assert clone.get_config() == config
    revived = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(revived) is type(loss)
    assert revived.get_config() == config


@pytest.mark.parametrize("name", NAMES)
def test_all_correct_gives_zero(name):
    y_true, _ = images()
    value = to_numpy(LOSSES[name](reduction=None)(y_true, y_true))
    np.testing.assert_array_equal(value, np.zeros(3, "float32"))


@pytest.mark.parametrize("name", NAMES)
def test_reduction_none_gives_one_value_per_image(name):
    y_true, y_pred = images()
    per_sample = to_numpy(LOSSES[name](reduction=None)(y_true, y_pred))
    assert per_sample.shape == (3,)
    expected = to_numpy(FUNCTIONS[name](y_true, y_pred))
    np.testing.assert_allclose(per_sample, expected, rtol=1e-6)
    assert np.all(per_sample > 0)


@pytest.mark.parametrize("name", NAMES)
def test_unweighted_is_batch_mean_of_per_sample(name):
    y_true, y_pred = images()
    per_sample = to_numpy(FUNCTIONS[name](y_true, y_pred))
    value = to_numpy(LOSSES[name]()(y_true, y_pred))
    np.testing.assert_allclose(value, per_sample.mean(), rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_sample_weighted(name):
    y_true, y_pred = images()
    weights = np.array([0.5, 2.0, 0.0], "float32")
    per_sample = to_numpy(FUNCTIONS[name](y_true, y_pred))
    value = to_numpy(LOSSES[name]()(y_true, y_pred, sample_weight=weights))
    np.testing.assert_allclose(value, (weights * per_sample).sum() / 3, rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_zero_weighted_gives_zero(name):
    y_true, y_pred = images()
    value = to_numpy(LOSSES[name]()(y_true, y_pred, sample_weight=np.zeros(3)))
    assert float(value) == 0.0


@pytest.mark.parametrize("name", NAMES)
def test_sample_reduction_mean_divides_sum_by_pixel_count(name):
    y_true, y_pred = images()
    summed = to_numpy(LOSSES[name](reduction=None)(y_true, y_pred))
    averaged = to_numpy(
        LOSSES[name](reduction=None, sample_reduction="mean")(y_true, y_pred)
    )
    np.testing.assert_allclose(averaged, summed / (4 * 5 * 2), rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_dtype_argument(name):
    y_true, y_pred = images()
    loss = LOSSES[name](dtype="bfloat16")
    assert loss.dtype == "bfloat16"
    value = loss(y_true, y_pred)
    assert keras.backend.standardize_dtype(value.dtype) == "bfloat16"
    reference = to_numpy(LOSSES[name]()(y_true, y_pred))
    np.testing.assert_allclose(
        to_numpy(keras.ops.cast(value, "float32")), reference, rtol=3e-2
    )


def small_autoencoder():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(16, activation="relu")(x)
    x = keras.layers.Dense(64, activation="sigmoid")(x)
    outputs = keras.layers.Reshape((8, 8, 1))(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("name", NAMES)
def test_fit_decreases_loss(name):
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    # Structured data: a few blurred blobs, so an autoencoder can learn them.
    base = rng.uniform(0, 1, (4, 8, 8, 1)).astype("float32")
    x = base[rng.integers(0, 4, 256)] * rng.uniform(0.8, 1.0, (256, 1, 1, 1))
    x = x.astype("float32")
    model = small_autoencoder()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=LOSSES[name]())
    history = model.fit(x, x, batch_size=32, epochs=4, verbose=0)
    curve = history.history["loss"]
    assert np.all(np.isfinite(curve))
    assert curve[-1] < 0.8 * curve[0]


@pytest.mark.parametrize("name", NAMES)
def test_saved_model_loads_without_custom_objects(name, tmp_path):
    model = small_autoencoder()
    loss = LOSSES[name](name="recon")
    model.compile(optimizer="adam", loss=loss)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.loss) is type(loss)
    assert loaded.loss.get_config() == loss.get_config()
    x = images(shape=(2, 8, 8, 1))[0]
    np.testing.assert_allclose(
        to_numpy(loaded(x)), to_numpy(model(x)), rtol=1e-6
    )
