import os
import pickle

import numpy as np

from keras_recon.data._checks import check_images
from keras_recon.data._checks import check_labels
from keras_recon.data.paths import resolve_dir

_NPZ = "cifar10_lossless_subset.npz"


def load_cifar10(path=None, split="train"):
    """CIFAR-10 as float32 in [0, 1], from the official batches or an `.npz`.

    Reads, in this order, whichever `path` holds: the official Python
    version (`cifar-10-batches-py/data_batch_1..5`, `test_batch`, or those
    files directly in `path`), or an `.npz` with `x_train`, `y_train`,
    `x_test`, `y_test` as uint8 `(n, 32, 32, 3)` (the exact-pixel subset in
    `../shared/datasets/cifar10` has this layout) or as floats in [0, 1].
    NaN, infinity, values outside the range and labels outside 0..9 are
    refused with the file and the index named.

    Args:
        path: The folder. Defaults to `None`, which reads
            `$KERAS_RECON_DATA/cifar10`.
        split: `"train"` or `"test"`. Defaults to `"train"`.

    Returns:
        `(images, labels)`: `(n, 32, 32, 3)` float32 and `(n,)` int64.
    """
    if split not in ("train", "test"):
        raise ValueError(f"Argument `split` must be 'train' or 'test'. Received: split={split!r}")
    folder = resolve_dir(path, "cifar10")
    for batches in (os.path.join(folder, "cifar-10-batches-py"), folder):
        if os.path.exists(os.path.join(batches, "test_batch")):
            return _from_batches(batches, split)
    npz = os.path.join(folder, _NPZ)
    if not os.path.exists(npz):
        candidates = [f for f in sorted(os.listdir(folder)) if f.endswith(".npz")]
        if not candidates:
            raise FileNotFoundError(
                f"{folder}: no CIFAR-10 data (expected cifar-10-batches-py/ or an .npz)"
            )
        npz = os.path.join(folder, candidates[0])
    return _from_npz(npz, split)


def _from_npz(path, split):
    try:
        with np.load(path, allow_pickle=False) as data:
            x, y = data[f"x_{split}"], data[f"y_{split}"]
    except KeyError as e:
        raise ValueError(f"{path}: missing array {e} (need x_train, y_train, x_test, y_test)") from e
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable .npz file ({e})") from e
    return _finish(path, x, y)


def _from_batches(folder, split):
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    xs, ys = [], []
    for name in names:
        file = os.path.join(folder, name)
        if not os.path.exists(file):
            raise FileNotFoundError(f"{folder}: missing {name}")
        try:
            with open(file, "rb") as f:
                # The official files are pickles; only open copies you trust.
                batch = pickle.load(f, encoding="bytes")
            xs.append(np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            ys.append(np.asarray(batch[b"labels"]))
        except Exception as e:
            raise ValueError(f"{file}: not a CIFAR-10 batch ({e})") from e
    return _finish(folder, np.concatenate(xs), np.concatenate(ys))


def _finish(source, x, y):
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[1:] != (32, 32, 3) or not (
        x.dtype == np.uint8 or np.issubdtype(x.dtype, np.floating)
    ):
        raise ValueError(
            f"{source}: expected images (n, 32, 32, 3), uint8 or float in [0, 1]; found {x.dtype} {x.shape}"
        )
    y = np.asarray(y).reshape(-1)
    if len(y) != len(x):
        raise ValueError(f"{source}: {len(x)} images but {len(y)} labels")
    check_labels(source, y, 10)
    if x.dtype == np.uint8:
        return x.astype("float32") / 255.0, y.astype("int64")
    return check_images(source, x, 0.0, 1.0).astype("float32"), y.astype("int64")
