import numpy as np

_NAMES = {"mnist": "mnist", "fashion_mnist": "fashion_mnist", "cifar10": "cifar10", "celeba": "celeb_a"}


def load_tfds(dataset, split="train"):
    """Loads a dataset through TensorFlow Datasets, where it can download.

    The alternative to reading files from a folder, for machines with
    internet access. Needs `pip install tensorflow-datasets` (the `tfds`
    extra). Images come back float32 in `[0, 1]` with int64 labels.
    CelebA through TFDS needs its manual download and is returned at its
    original size; prefer `load_celeba(path)`, which crops and resizes.

    Args:
        dataset: `"mnist"`, `"fashion_mnist"`, `"cifar10"` or `"celeba"`.
        split: A TFDS split name. Defaults to `"train"`.

    Returns:
        `(images, labels)` as NumPy arrays.
    """
    if dataset not in _NAMES:
        raise ValueError(f"Argument `dataset` must be one of {sorted(_NAMES)}. Received: dataset={dataset!r}")
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise ImportError(
            "Loading through TensorFlow Datasets needs `pip install tensorflow-datasets` "
            "(or `keras-recon[tfds]`). Without internet, read the files from a folder "
            "instead: `path=` or the KERAS_RECON_DATA environment variable."
        ) from e
    try:
        images, labels = tfds.as_numpy(
            tfds.load(_NAMES[dataset], split=split, batch_size=-1, as_supervised=dataset != "celeba")
        )
    except Exception as e:
        raise RuntimeError(
            f"TensorFlow Datasets could not provide {dataset!r} ({type(e).__name__}: {e}). "
            "Without internet, read the files from a folder instead: `path=` or KERAS_RECON_DATA."
        ) from e
    return np.asarray(images, np.float32) / 255.0, np.asarray(labels, np.int64)
