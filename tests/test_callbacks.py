import csv

import keras
import numpy as np
import pytest
from PIL import Image

from keras_recon import callbacks
from keras_recon import data
from keras_recon import metrics
from tests.backend_utils import to_numpy


class TinyVAE(keras.Model):
    """Just enough of the keras_recon model protocol for the callbacks."""

    def __init__(self):
        super().__init__()
        self.enc = keras.layers.Dense(4)
        self.dec = keras.layers.Dense(784, activation="sigmoid")

    def encode(self, x):
        h = self.enc(keras.ops.reshape(x, (-1, 784)))
        return h[:, :2], h[:, 2:]

    def decode(self, z):
        return keras.ops.reshape(self.dec(z), (-1, 28, 28, 1))

    def call(self, x):
        return self.decode(self.encode(x)[0])

    def reconstruct(self, x):
        return self(x)

    def sample(self, n, seed=0):
        return self.decode(keras.random.normal((n, 2), seed=seed))


@pytest.fixture(scope="module")
def digits():
    x, _ = data.load_embedded_mnist()
    return x[::100]  # 50 real digits


def fitted(model, x, cbs):
    model.compile(optimizer="adam", loss="mse")
    return model.fit(x, x, epochs=2, batch_size=25, verbose=0, callbacks=cbs)


def test_image_quality_reaches_history_and_csv_logger(digits, tmp_path):
    quality = callbacks.ImageQuality(digits[:16])
    model = TinyVAE()
    history = fitted(model, digits, [quality, keras.callbacks.CSVLogger(str(tmp_path / "log.csv"))])
    for key in ("recon_sharpness", "sample_sharpness", "recon_ssim"):
        assert len(history.history[key]) == 2
    with open(tmp_path / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[-1]["recon_ssim"]) == pytest.approx(history.history["recon_ssim"][-1])
    # The logged numbers are the metrics of the final model.
    recon = to_numpy(model(digits[:16]))
    assert history.history["recon_sharpness"][-1] == pytest.approx(
        float(to_numpy(metrics.sharpness(recon)).mean()), rel=1e-5
    )
    assert history.history["recon_ssim"][-1] == pytest.approx(
        float(to_numpy(metrics.ssim(digits[:16], recon)).mean()), rel=1e-5
    )


def test_image_quality_on_a_plain_model_with_flat_vectors(digits):
    flat = digits.reshape(len(digits), 784)
    images = digits[:8]
    dense = keras.layers.Dense(784, activation="sigmoid", kernel_initializer=keras.initializers.GlorotUniform(seed=0))
    model = keras.Sequential([keras.Input((784,)), dense])
    expected = {"recon_sharpness": [], "recon_ssim": []}

    def measure(epoch, logs):
        # The package metrics on the 28x28 images of the model's outputs now.
        recon = to_numpy(model(flat[:8])).reshape(8, 28, 28, 1)
        expected["recon_sharpness"].append(float(to_numpy(metrics.sharpness(recon)).mean()))
        expected["recon_ssim"].append(float(to_numpy(metrics.ssim(images, recon)).mean()))

    history = fitted(
        model, flat, [callbacks.ImageQuality(flat[:8]), keras.callbacks.LambdaCallback(on_epoch_end=measure)]
    )
    assert "sample_sharpness" not in history.history  # nothing to sample from
    for key, values in expected.items():
        assert history.history[key] == pytest.approx(values, rel=1e-5), key
    # Of the reconstructions, not of the inputs again: after two epochs
    # this one-layer model's are far from the digits (SSIM measured
    # 0.05-0.07 on the three backends, against 1 for the inputs themselves;
    # sharpness 0.11 against the inputs' 0.18).
    assert history.history["recon_ssim"][-1] < 0.5
    input_sharpness = float(to_numpy(metrics.sharpness(images)).mean())
    assert history.history["recon_sharpness"][-1] != pytest.approx(input_sharpness, rel=0.2)


def test_latent_stats(digits):
    model = TinyVAE()
    history = fitted(model, digits, [callbacks.LatentStats(digits)])
    z_mean, z_log_var = (to_numpy(t) for t in model.encode(digits))
    assert history.history["variance_law"][-1] == pytest.approx(
        metrics.variance_law(z_mean, z_log_var)[1], rel=1e-5
    )
    assert history.history["inactive_latents"][-1] == metrics.inactive_latents(z_log_var)


def test_latent_stats_without_encoder_is_a_clear_error(digits):
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Identity()])
    with pytest.raises(ValueError, match="encode_fn"):
        fitted(model, digits, [callbacks.LatentStats(digits)])


def test_sample_grid_writes_pngs_and_tensorboard_images(digits, tmp_path):
    grid = callbacks.SampleGrid(digits[:10], tmp_path / "grids", tensorboard_dir=str(tmp_path / "tb"))
    fitted(TinyVAE(), digits, [grid])
    files = sorted((tmp_path / "grids").glob("*.png"))
    assert [f.name for f in files] == ["epoch_000.png", "epoch_001.png"]
    with Image.open(files[-1]) as image:
        # 3 rows (inputs, reconstructions, samples) of 10 tiles, 1 px borders.
        assert image.size == (10 * 29 + 1, 3 * 29 + 1)
        top_left = np.asarray(image)[1:29, 1:29] / 255
    np.testing.assert_allclose(top_left, digits[0, ..., 0], atol=1 / 255)
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
