import gzip
import os

import numpy as np

from keras_recon.data._checks import check_labels
from keras_recon.data.paths import resolve_dir

_IMAGE_MAGIC, _LABEL_MAGIC = 2051, 2049
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path, magic):
    """Reads one IDX file (raw or `.gz`) of unsigned bytes, checking it.

    Raises `ValueError` naming the file for a wrong magic number or a size
    that does not match the header (a truncated download).
    """
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise ValueError(f"{path}: cannot be read as {'gzip' if path.endswith('.gz') else 'IDX'} ({e})") from e
    if len(data) < 8:
        raise ValueError(f"{path}: too short to be an IDX file ({len(data)} bytes)")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise ValueError(f"{path}: wrong magic number {found}, expected {magic}")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise ValueError(
            f"{path}: {len(data)} bytes, but its header {dims} needs {expected} "
            "(truncated or corrupted file)"
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def _find(folder, stem):
    for name in (stem + ".gz", stem):
        candidate = os.path.join(folder, name)
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(f"{folder}: missing {stem}.gz (or {stem})")


def load_idx_dataset(folder, split):
    if split not in _FILES:
        raise ValueError(f"Argument `split` must be 'train' or 'test'. Received: split={split!r}")
    image_file, label_file = (_find(folder, stem) for stem in _FILES[split])
    images = read_idx(image_file, _IMAGE_MAGIC)
    labels = read_idx(label_file, _LABEL_MAGIC)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"{image_file} and {label_file} disagree: images {images.shape}, labels {labels.shape}"
        )
    check_labels(label_file, labels, 10)
    return images[..., None].astype("float32") / 255.0, labels.astype("int64")


def load_mnist(path=None, split="train"):
    """MNIST from the four official IDX files, as float32 in [0, 1].

    Example:

    >>> x, y = load_mnist("../shared/datasets/mnist", split="test")
    >>> x.shape, y.shape
    ((10000, 28, 28, 1), (10000,))

    Args:
        path: Folder holding `train-images-idx3-ubyte.gz` and the other
            three files (gzipped or not). Defaults to `None`, which reads
            `$KERAS_RECON_DATA/mnist`.
        split: `"train"` (60,000) or `"test"` (10,000). Defaults to `"train"`.

    Returns:
        `(images, labels)`: `(n, 28, 28, 1)` float32 and `(n,)` int64.
    """
    return load_idx_dataset(resolve_dir(path, "mnist"), split)


def load_fashion_mnist(path=None, split="train"):
    """Fashion-MNIST from its IDX files (same names and layout as MNIST).

    Args:
        path: Folder holding the four IDX files. Defaults to `None`, which
            reads `$KERAS_RECON_DATA/fashion_mnist`.
        split: `"train"` or `"test"`. Defaults to `"train"`.

    Returns:
        `(images, labels)`: `(n, 28, 28, 1)` float32 and `(n,)` int64.
    """
    return load_idx_dataset(resolve_dir(path, "fashion_mnist"), split)
