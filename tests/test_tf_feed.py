"""The `tf.data` feed that keras_recon's models give `fit` for NumPy arrays
and a plain `ImageBatches` on TensorFlow: same batches and results as
Keras's own pipelines, without their autotuning, and Keras's pipelines
wherever they do more."""

import keras
import numpy as np
import pytest

from keras_recon import data
from keras_recon.data import _tf_feed
from keras_recon.losses import LogCosh
from keras_recon.models import AE
from keras_recon.models import VAE
from keras_recon.models import architectures
from tests.backend_utils import BACKEND

tf = pytest.importorskip("tensorflow")

tf_only = pytest.mark.skipif(BACKEND != "tensorflow", reason="the feed replaces Keras's only on TensorFlow")


def batches_of(dataset):
    return [tuple(np.asarray(t) for t in tf.nest.flatten(b)) for b in dataset]


def test_batches_cover_every_row_once_with_a_partial_last_and_a_known_count():
    x = np.arange(250, dtype=np.float64).reshape(250, 1)
    y = np.arange(250, dtype=np.int32) * 10
    dataset = _tf_feed.array_dataset((x, y), 100, True)
    assert int(dataset.cardinality()) == 3
    epoch = batches_of(dataset)
    assert [len(b[0]) for b in epoch] == [100, 100, 50]
    rows = np.concatenate([b[0][:, 0] for b in epoch])
    assert sorted(rows.tolist()) == list(range(250))
    assert rows.tolist() != list(range(250))  # shuffled
    for bx, by in epoch:
        np.testing.assert_array_equal(by, bx[:, 0].astype(np.int32) * 10)  # pairs stay aligned
        assert bx.dtype == np.float32 and by.dtype == np.int32  # floats to floatx, ints kept
    in_order = np.concatenate([b[0][:, 0] for b in batches_of(_tf_feed.array_dataset((x,), 64, False))])
    assert in_order.tolist() == list(range(250))


def test_the_feed_does_not_autotune():
    options = _tf_feed.array_dataset((np.zeros((10, 2), np.float32),), 4, True).options()
    assert options.autotune.enabled is False


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((), {"x": [np.zeros((8, 2))]}),  # a list of inputs
        ((np.zeros((8, 2)),), {"sample_weight": np.ones(8)}),
        ((np.zeros((8, 2)),), {"class_weight": {0: 1.0}}),
        ((np.zeros((8, 2)),), {"validation_split": 0.25}),
        ((np.zeros((8, 2)),), {"steps_per_epoch": 2}),
        ((np.zeros((8, 2)),), {"shuffle": "batch"}),
        ((np.zeros((8, 2)),), {"batch_size": 0}),
        ((np.zeros((8, 2)), np.zeros(7)), {}),  # lengths differ: Keras says so
        ((np.zeros((8, 2)), None, 4), {}),  # positional past y
        ((np.zeros((8, 2)),), {"x": np.zeros((8, 2))}),  # x twice
        ((np.zeros((8, 2)),), {"no_such_argument": 1}),
        (((np.zeros((8, 2)), np.zeros((8, 2))),), {}),  # a tuple of inputs
        ((data.ImageBatches(np.zeros((8, 2)), transform=lambda b: b),), {"shuffle": False}),
        ((data.ImageBatches(np.zeros((8, 2)), workers=2),), {"shuffle": False}),
        ((data.ImageBatches(np.zeros((8, 2))),), {"shuffle": True}),  # Keras reorders with `random`
        ((data.ImageBatches(np.zeros((8, 2))),), {"shuffle": False, "batch_size": 4}),  # Keras says no
        ((type("Batches", (data.ImageBatches,), {})(np.zeros((8, 2))),), {"shuffle": False}),  # own indexing
    ],
)
def test_keras_pipeline_is_kept_where_it_does_more(args, kwargs):
    assert _tf_feed.fit_arguments(args, kwargs) == (args, kwargs, [])


def test_arrays_and_validation_arrays_become_datasets():
    x, v = np.zeros((8, 2), np.float32), np.zeros((6, 2), np.float32)
    args, kwargs, callbacks = _tf_feed.fit_arguments(
        (x,), {"batch_size": 4, "validation_data": (v,), "validation_batch_size": 5, "epochs": 2})
    assert callbacks == []
    assert args == () and set(kwargs) == {"x", "validation_data", "epochs", "shuffle"}
    assert int(kwargs["x"].cardinality()) == 2 and int(kwargs["validation_data"].cardinality()) == 2
    _, kwargs, _ = _tf_feed.fit_arguments((x,), {"validation_data": (v, v, np.ones(6))})
    assert kwargs["validation_data"][0] is v  # with sample weights: Keras's pipeline


def digits():
    x, _ = data.load_embedded_mnist()
    return x[:250], x[250:370]


def trained(fit, kind, **fit_kwargs):
    keras.utils.set_random_seed(0)
    networks = architectures.mlp((28, 28, 1), 4, hidden=(32,), gaussian=kind is VAE)
    model = VAE(*networks, seed=0) if kind is VAE else AE(*networks)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=LogCosh(a=10))
    history = fit(model, **fit_kwargs)
    return [np.asarray(w) for w in model.get_weights()], history.history


@tf_only
@pytest.mark.parametrize("kind", [AE, VAE])
def test_fit_on_arrays_trains_exactly_as_keras_own_pipeline(kind):
    x, v = digits()
    kwargs = {"x": x, "batch_size": 100, "epochs": 3, "shuffle": True, "verbose": 0, "validation_data": (v,)}
    ours, ours_history = trained(lambda m, **k: m.fit(**k), kind, **kwargs)
    theirs, theirs_history = trained(lambda m, **k: keras.Model.fit(m, **k), kind, **kwargs)
    assert ours_history.keys() == theirs_history.keys() and "val_loss" in ours_history
    for key in ours_history:
        np.testing.assert_allclose(ours_history[key], theirs_history[key], rtol=1e-6, err_msg=key)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@tf_only
def test_fit_on_arrays_shows_the_epoch_length_from_the_first_epoch(capsys):
    x, _ = digits()
    keras.utils.set_random_seed(0)
    model = AE(*architectures.mlp((28, 28, 1), 4, hidden=(16,), gaussian=False))
    model.compile(optimizer="adam", loss=LogCosh(a=10))
    model.fit(x, batch_size=100, epochs=1, verbose=1)
    assert "3/3" in capsys.readouterr().out


def test_image_batches_feed_follows_each_epochs_order():
    images = np.arange(50, dtype=np.float32).reshape(50, 1)
    batches = data.ImageBatches(images, labels=np.arange(50) * 2, batch_size=20, seed=3)
    dataset = _tf_feed.image_batches_dataset(batches)
    assert int(dataset.cardinality()) == 3 and dataset.options().autotune.enabled is False
    for _ in range(3):  # each epoch's order, as Keras's own pipeline reads it
        expected = [tuple(np.asarray(a) for a in batches[i]) for i in range(len(batches))]
        got = batches_of(dataset)
        assert [len(b[0]) for b in got] == [20, 20, 10]
        for (gx, gy), (ex, ey) in zip(got, expected):
            np.testing.assert_array_equal(gx, ex)
            np.testing.assert_array_equal(gy, ey)
        batches.on_epoch_end()
    epoch = batches._epoch
    _, kwargs, callbacks = _tf_feed.fit_arguments((batches,), {"epochs": 2, "shuffle": False})
    assert [type(c) for c in callbacks] == [_tf_feed.EpochEnds]
    assert batches._epoch == epoch + 1  # Keras's pipeline also ends an epoch before training


@tf_only
def test_fit_on_image_batches_trains_exactly_as_keras_own_pipeline():
    x, _ = digits()

    def fit(model, own):
        feed = data.ImageBatches(x, batch_size=100, seed=1)
        if own:
            return model.fit(feed, epochs=3, verbose=0)
        return keras.Model.fit(model, feed, epochs=3, verbose=0, shuffle=False)

    ours, ours_history = trained(lambda m: fit(m, True), VAE)
    theirs, theirs_history = trained(lambda m: fit(m, False), VAE)
    for key in ours_history:
        np.testing.assert_allclose(ours_history[key], theirs_history[key], rtol=1e-6, err_msg=key)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
