import gzip
import hashlib
import shutil

import keras
import numpy as np
import pytest

from keras_recon import data


def test_embedded_mnist_is_real_and_needs_no_path():
    x, y = data.load_embedded_mnist()
    assert x.shape == (5000, 28, 28, 1) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y), [500] * 10)


def test_mnist_matches_the_official_files(data_root):
    x, y = data.load_mnist(f"{data_root}/mnist")
    assert x.shape == (60000, 28, 28, 1) and x.dtype == np.float32
    pixels = np.round(x * 255).astype(np.uint8)
    # The official MD5 of the uncompressed training images, header included.
    header = bytes.fromhex("00000803") + b"".join(
        n.to_bytes(4, "big") for n in (60000, 28, 28)
    )
    digest = hashlib.md5(header + pixels.tobytes()).hexdigest()
    assert digest == "6bbc9ace898e44ae57da46a324031adb"
    np.testing.assert_array_equal(
        np.bincount(y), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    )
    x_test, _ = data.load_mnist(f"{data_root}/mnist", split="test")
    assert x_test.shape == (10000, 28, 28, 1)


def test_loaders_read_the_environment_variable(data_root, monkeypatch):
    monkeypatch.setenv("KERAS_RECON_DATA", data_root)
    x, _ = data.load_mnist(split="test")
    assert len(x) == 10000


def test_missing_path_and_folder_are_clear(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_RECON_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="KERAS_RECON_DATA"):
        data.load_mnist()
    with pytest.raises(FileNotFoundError, match="folder not found"):
        data.load_mnist(str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        data.load_mnist(str(tmp_path), split="test")


@pytest.fixture
def mnist_copy(data_root, tmp_path):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(f"{data_root}/mnist/{name}", tmp_path / name)
    return tmp_path


def test_wrong_magic_number_is_named(mnist_copy):
    path = mnist_copy / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + raw[4:]))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: wrong magic number 2049"):
        data.load_mnist(str(mnist_copy), split="test")


def test_truncated_files_are_named(mnist_copy):
    path = mnist_copy / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: .*truncated"):
        data.load_mnist(str(mnist_copy), split="test")
    path.write_bytes(gzip.compress(raw)[:5000])  # a cut-off download
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: cannot be read"):
        data.load_mnist(str(mnist_copy), split="test")


def test_cifar10_subset(data_root):
    x, y = data.load_cifar10(f"{data_root}/cifar10", split="test")
    assert x.shape == (1000, 32, 32, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert set(np.unique(y)) == set(range(10))


def test_cifar10_official_batches_layout(tmp_path):
    import pickle

    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    pixels = rng.integers(0, 256, (3, 3072), dtype=np.uint8)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": pixels, b"labels": [1, 2, 3]}, f)
    x, y = data.load_cifar10(str(tmp_path), split="test")
    # Official rows are channel-planar: R plane, G plane, B plane.
    np.testing.assert_allclose(x[0, 0, 1, 2], pixels[0, 2 * 1024 + 1] / 255)
    np.testing.assert_array_equal(y, [1, 2, 3])


def test_celeba_crop_and_resize(data_root):
    faces = data.load_celeba(f"{data_root}/celeba", limit=4)
    assert faces.shape == (4, 64, 64, 3) and faces.dtype == np.float32
    from PIL import Image

    first = sorted((__import__("pathlib").Path(data_root) / "celeba" / "img_align_celeba").glob("*.jpg"))[0]
    with Image.open(first) as image:
        w, h = image.size
        left, top = (w - 148) // 2, (h - 148) // 2
        expected = np.asarray(
            image.convert("RGB").crop((left, top, left + 148, top + 148)).resize((64, 64), Image.Resampling.BICUBIC),
            np.float32,
        ) / 255
    np.testing.assert_allclose(faces[0], expected, atol=1e-6)


def test_corrupted_celeba_image_is_named(tmp_path):
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    (folder / "000001.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="000001.jpg: cannot be read"):
        data.load_celeba(str(tmp_path))


def test_tfds_route_fails_with_a_clear_message_here():
    # This machine has no tensorflow-datasets and no internet: both are
    # reported with the way out (a folder path).
    try:
        import tensorflow_datasets  # noqa: F401

        expected = RuntimeError
    except ImportError:
        expected = ImportError
    with pytest.raises(expected, match="KERAS_RECON_DATA"):
        data.load_tfds("mnist")
    with pytest.raises(ValueError, match="dataset"):
        data.load_tfds("imagenet")


def test_image_batches_cover_every_image_once_per_epoch_and_train():

    from keras_recon.models import VAE
    from keras_recon.models import architectures

    x, _ = data.load_embedded_mnist()
    x = x[::20][:230]
    y = np.arange(230)  # image ids as labels, to see which images come out
    batches = data.ImageBatches(x, y, batch_size=50, seed=1)
    assert len(batches) == 5
    seen = np.concatenate([batches[i][1] for i in range(len(batches))])
    assert sorted(seen.tolist()) == list(range(230))
    np.testing.assert_array_equal(batches[0][0], x[batches[0][1]])
    first = batches[0][1].copy()
    batches.on_epoch_end()
    assert not np.array_equal(first, batches[0][1])  # reshuffled
    vae = VAE(*architectures.mlp((28, 28, 1), 4, hidden=(32,)), seed=0)
    vae.compile(optimizer="adam", loss="mse")
    history = vae.fit(data.ImageBatches(x, batch_size=50), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    with pytest.raises(ValueError, match="labels"):
        data.ImageBatches(x, y[:10])


def test_image_batches_order_is_the_epochs_batches():
    x = np.arange(23, dtype="float32").reshape(23, 1)
    batches = data.ImageBatches(x, batch_size=5, seed=3)
    order = batches.order
    assert sorted(order.tolist()) == list(range(23))
    assert not np.array_equal(order, np.arange(23))  # shuffled
    np.testing.assert_array_equal(np.concatenate([batches[i] for i in range(len(batches))])[:, 0], order)
    order[:] = 0  # a copy: the batches keep their order
    np.testing.assert_array_equal(batches[0][:, 0], batches.order[:5])
    assert sorted(batches.order.tolist()) == list(range(23))
    first = batches.order
    batches.on_epoch_end()
    assert not np.array_equal(batches.order, first)
    np.testing.assert_array_equal(batches[4][:, 0], batches.order[20:])
    again = data.ImageBatches(x, batch_size=5, seed=3)
    np.testing.assert_array_equal(again.order, first)  # the seed fixes each epoch's order
    np.testing.assert_array_equal(data.ImageBatches(x, shuffle=False).order, np.arange(23))


class _RecordingBatches(data.ImageBatches):
    """`ImageBatches` that records the order `fit` reads its batches in."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.epochs = [[]]

    def __getitem__(self, index):
        self.epochs[-1].append(int(index))
        return super().__getitem__(index)

    def on_epoch_end(self):
        self.epochs.append([])
        super().on_epoch_end()


def test_models_read_image_batches_in_their_own_order():
    import random

    from keras_recon.models import AE
    from keras_recon.models import architectures

    x, _ = data.load_embedded_mnist()
    random.seed(7)  # Keras's own reordering draws from Python's `random`
    ae = AE(*architectures.mlp((28, 28, 1), 4, hidden=(16,), gaussian=False))
    ae.compile(optimizer="adam", loss="mse")
    own = _RecordingBatches(x[:300], batch_size=50, seed=1)
    ae.fit(own, epochs=3, verbose=0)
    trained = [e for e in own.epochs if len(e) == 6]
    assert len(trained) == 3 and all(e == sorted(e) for e in trained)
    # What a plain `keras.Model.fit` does with its default `shuffle=True`,
    # which the models' `fit` turns off: the same batches, reordered.
    plain = _RecordingBatches(x[:300], batch_size=50, seed=1)
    keras.Model.fit(ae, plain, epochs=3, verbose=0)
    reordered = [e for e in plain.epochs if len(e) == 6]
    assert any(e != sorted(e) for e in reordered)
    assert all(sorted(e) == list(range(6)) for e in reordered)
    ae.fit(own, epochs=1, verbose=0, shuffle=True)  # asked for: Keras's reordering
    assert own.epochs[-2] != sorted(own.epochs[-2]) or own.epochs[-1] != sorted(own.epochs[-1])
