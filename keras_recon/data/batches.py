import inspect
import math

import keras
import numpy as np

from keras_recon import distributed
from keras_recon.data._checks import check_images

# `keras.Model.fit`'s parameters, in order, without `self`.
_FIT_PARAMETERS = tuple(inspect.signature(keras.Model.fit).parameters)[1:]


class ImageBatches(keras.utils.PyDataset):
    """Shuffled minibatches of in-memory images for `fit` on any backend.

    Keras batches NumPy arrays itself; this class is for when you want the
    batching explicit: a fixed seed per epoch (reproducible order), optional
    labels, and an optional per-batch `transform` (e.g. dequantisation
    noise) applied on the fly rather than to the whole array.

    keras_recon's models take the batches in this order (their `fit`
    passes `shuffle=False` for an `ImageBatches` unless you pass
    `shuffle`). Give a plain Keras model `fit(batches, shuffle=False)`:
    with Keras's default `shuffle=True` it reorders the batches of every
    epoch with Python's `random` as well.

    With several processes (`keras_recon.distributed`) on an engine where
    each process feeds its own share (JAX), give every process the same
    images, `batch_size` (the global batch) and `seed`: each batch then
    holds this process's contiguous part of the global batch
    (`distributed.process_share`), and Keras joins the parts.

    Example:

    ```python
    x, y = data.load_mnist(split="train")
    vae.fit(data.ImageBatches(x, batch_size=100, seed=0), epochs=40)
    ```

    Args:
        images: Array `(n, h, w, c)` (or any `(n, ...)`).
        labels: Optional array `(n,)`; batches are then `(x, y)` pairs.
            Defaults to `None` (batches of `x` alone, which keras_recon
            models use as their own targets).
        batch_size: Defaults to `100`.
        shuffle: Reshuffle every epoch. Defaults to `True`.
        seed: Seed of the shuffles. Defaults to `0`.
        transform: Optional callable applied to each image batch.
    """

    def __init__(self, images, labels=None, batch_size=100, shuffle=True, seed=0, transform=None, **kwargs):
        super().__init__(**kwargs)
        self.images = np.asarray(images)
        check_images("ImageBatches images", self.images, -np.inf, np.inf)
        self.labels = None if labels is None else np.asarray(labels)
        if self.labels is not None and len(self.labels) != len(self.images):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"Argument `batch_size` must be a positive integer. Received: {batch_size!r}")
        self.batch_size, self.shuffle, self.seed, self.transform = batch_size, shuffle, seed, transform
        self._epoch = 0
        self._order = self._make_order()

    def _make_order(self):
        if not self.shuffle:
            return np.arange(len(self.images))
        return np.random.default_rng((self.seed, self._epoch)).permutation(len(self.images))

    @property
    def order(self):
        """The rows of `images` in the order this epoch's batches take them
        (a copy): batch `i` is `images[order[i * batch_size:(i + 1) *
        batch_size]]`. It changes when `on_epoch_end` starts the next
        epoch."""
        return self._order.copy()

    def __len__(self):
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, index):
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        if distributed.feeds_share():
            rows = distributed.process_share(rows, len(rows))
        x = self.images[rows]
        if self.transform is not None:
            x = self.transform(x)
        return x if self.labels is None else (x, self.labels[rows])

    def on_epoch_end(self):
        self._epoch += 1
        self._order = self._make_order()


def fit_keyword_arguments(args, kwargs):
    """`fit`'s keyword arguments with `shuffle=False` added for an
    `ImageBatches` given no `shuffle`: it orders its batches itself (seeded
    per epoch), and Keras's default `shuffle=True` would reorder them again
    with Python's `random`."""
    x = args[0] if args else kwargs.get("x")
    if len(args) <= _FIT_PARAMETERS.index("shuffle") and "shuffle" not in kwargs and isinstance(x, ImageBatches):
        return {**kwargs, "shuffle": False}
    return kwargs
