"""Bad input is a clear error, named where it comes from."""

import gzip

import numpy as np
import pytest

from keras_recon import data
from keras_recon import likelihoods
from keras_recon import losses
from keras_recon import metrics
from tests.reliability.test_properties import SUBJECTS

IMAGES = np.random.default_rng(0).uniform(size=(2, 16, 16, 1)).astype("float32")


@pytest.mark.parametrize("name", sorted(SUBJECTS))
def test_shape_mismatch_is_a_value_error(name):
    subject = SUBJECTS[name][0]()
    with pytest.raises(ValueError, match="shape"):
        subject(np.zeros((2, 3), "float32"), np.zeros((2, 4), "float32"))


@pytest.mark.parametrize("fn", [
    lambda x: metrics.sharpness(x),
    lambda x: metrics.ssim(x, x),
    lambda x: metrics.psnr(x, x * 0.9),
])
def test_image_metrics_want_float_images_of_rank_3_or_4_in_0_1(fn):
    with pytest.raises(ValueError, match="shape"):
        fn(IMAGES.reshape(2, -1))  # flat vectors are not images
    with pytest.raises(ValueError, match="dtype uint8"):
        fn((IMAGES * 255).astype("uint8"))
    with pytest.raises(ValueError, match="0-255 data"):
        fn(IMAGES * 255)  # floats in [0, 255] passed as if in [0, 1]
    fn(IMAGES[..., 0])  # (batch, h, w) gets a channel axis: documented


def test_ssim_takes_0_255_data_with_max_val():
    np.testing.assert_allclose(
        np.asarray(metrics.ssim(IMAGES * 255, IMAGES * 255, max_val=255.0)), 1.0, atol=1e-5
    )


def _cifar_npz(path, x, y):
    np.savez(path, x_train=x, y_train=y, x_test=x[:1], y_test=y[:1])


def test_cifar_loader_names_the_file_and_image_with_nan(tmp_path):
    x = np.random.default_rng(0).uniform(size=(5, 32, 32, 3)).astype("float32")
    x[3, 4, 5, 1] = np.nan
    _cifar_npz(tmp_path / "c.npz", x, np.arange(5))
    with pytest.raises(ValueError, match=r"c\.npz: image 3 holds nan at position \(4, 5, 1\)"):
        data.load_cifar10(str(tmp_path))


def test_cifar_loader_refuses_out_of_range_floats_and_labels(tmp_path):
    x = np.random.default_rng(0).uniform(size=(5, 32, 32, 3)).astype("float32") * 255
    _cifar_npz(tmp_path / "c.npz", x, np.arange(5))
    with pytest.raises(ValueError, match=r"image 0 .* outside the declared range \[0, 1\] \(0-255 data"):
        data.load_cifar10(str(tmp_path))
    _cifar_npz(tmp_path / "c.npz", (x / 255).astype("float32"), np.array([0, 1, 12, 3, 4]))
    with pytest.raises(ValueError, match="label 2 is 12"):
        data.load_cifar10(str(tmp_path))
    _cifar_npz(tmp_path / "c.npz", np.full((5, 32, 32, 3), np.inf, "float32"), np.arange(5))
    with pytest.raises(ValueError, match="image 0 holds inf"):
        data.load_cifar10(str(tmp_path))


def _idx(path, magic, array):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def test_mnist_loader_names_a_bad_label(tmp_path):
    _idx(tmp_path / "train-images-idx3-ubyte.gz", 2051, np.zeros((4, 28, 28)))
    _idx(tmp_path / "train-labels-idx1-ubyte.gz", 2049, np.array([1, 2, 11, 3]))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz: label 2 is 11"):
        data.load_mnist(str(tmp_path), "train")


def test_image_batches_refuse_nan():
    x = IMAGES.copy()
    x[1, 2, 3, 0] = np.nan
    with pytest.raises(ValueError, match=r"ImageBatches images: image 1 holds nan"):
        data.ImageBatches(x)


def test_divergences_are_finite_on_negative_data_and_gaussian_refuses_a_negative_gamma():
    value = losses.IDivergence()(np.array([[0.5, -0.1]], "float32"), np.array([[0.5, 0.5]], "float32"))
    assert np.isfinite(float(np.asarray(value)))
    with pytest.raises(ValueError, match="must be finite and positive"):
        likelihoods.Gaussian(gamma=-1.0)
