"""In-memory arrays (and a plain `ImageBatches`) as a `tf.data` pipeline
that does not autotune, which keras_recon's models hand to `fit` on the
TensorFlow backend (`fit_arguments`), and the `shuffle` default the models
give an `ImageBatches` on every backend.

Keras turns arrays given to `fit` into a `tf.data` pipeline that autotunes
its parallelism and prefetching. Each epoch makes a new iterator of it,
and destroying the last one waits for tf.data's autotuning thread to wake
from its sleep: on the 2-core build machine 0.2-2.7 s in about one epoch
out of three, against a 1.5 s epoch of 10,000 MNIST digits
(`benchmarks/README.md`). Slicing an in-memory batch needs no tuning, so
this pipeline gathers each batch on one prefetch thread, two batches
ahead, and makes epochs whose iterators are destroyed at once.
"""

import inspect

import keras
import numpy as np

# Batches sliced ahead of the training step.
PREFETCH = 2

# `keras.Model.fit`'s parameters, in order, without `self`.
_FIT_PARAMETERS = tuple(inspect.signature(keras.Model.fit).parameters)[1:]


class EpochEnds(keras.callbacks.Callback):
    """Calls a `PyDataset`'s `on_epoch_end` after every epoch, as Keras's
    `PyDataset` pipeline does, for one that `fit` feeds otherwise."""

    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def on_epoch_end(self, epoch, logs=None):
        self.batches.on_epoch_end()


def image_batches_unshuffled(args, kwargs):
    """`fit`'s keyword arguments with `shuffle=False` added for an
    `ImageBatches` given no `shuffle`: it orders its batches itself (seeded
    per epoch), and Keras's default `shuffle=True` would reorder them again
    with Python's `random`."""
    from keras_recon.data.batches import ImageBatches

    x = args[0] if args else kwargs.get("x")
    if len(args) <= _FIT_PARAMETERS.index("shuffle") and "shuffle" not in kwargs and isinstance(x, ImageBatches):
        return {**kwargs, "shuffle": False}
    return kwargs


def fit_arguments(args, kwargs):
    """`fit`'s arguments with NumPy arrays and a plain `ImageBatches`
    replaced by this module's datasets where Keras's pipelines would do
    nothing more (see `LikelihoodOwner.fit`), and the callbacks such a
    dataset needs."""
    unchanged = args, kwargs, []
    if len(args) > 2:
        # Positional arguments past `y` would now follow a dataset; keep
        # the call as given.
        return unchanged
    positional = dict(zip(("x", "y"), args))
    if set(positional) & set(kwargs) or set(kwargs) - set(_FIT_PARAMETERS):
        return unchanged  # Keras reports the argument given twice or unknown.
    bound = {**positional, **kwargs}
    if (bound.get("sample_weight") is not None or bound.get("class_weight") is not None
            or bound.get("validation_split", 0.0) or bound.get("steps_per_epoch") is not None):
        return unchanged
    shuffle = bound.get("shuffle", True)
    batch_size = bound.get("batch_size")
    if not isinstance(shuffle, bool) or not (batch_size is None or _positive_int(batch_size)):
        return unchanged
    x, y = bound.get("x"), bound.get("y")
    callbacks = []
    if isinstance(x, np.ndarray) and (y is None or isinstance(y, np.ndarray)):
        arrays = plain_arrays(x if y is None else (x, y))
        if arrays is None:
            return unchanged
        batch_size = batch_size or 32  # Keras's default
        bound["x"] = array_dataset(arrays, batch_size, shuffle)
    elif y is None and batch_size is None and not shuffle:
        # (With `shuffle=True` Keras reorders the batches with Python's
        # `random`; that stays Keras's.)
        dataset = image_batches_dataset(x)
        if dataset is None:
            return unchanged
        bound["x"] = dataset
        x.on_epoch_end()  # as Keras's pipeline does once before training
        callbacks.append(EpochEnds(x))
    else:
        return unchanged
    bound.pop("y", None)
    bound.pop("batch_size", None)
    bound["shuffle"] = False  # the dataset orders itself; Keras warns of `shuffle=True` with one
    validation = bound.get("validation_data")
    validation_batch = bound.get("validation_batch_size")
    if (isinstance(validation, tuple) and plain_arrays(validation) is not None
            and (validation_batch is None or _positive_int(validation_batch))):
        validation_batch = validation_batch or batch_size or 32
        bound["validation_data"] = array_dataset(validation, validation_batch, False)
        bound.pop("validation_batch_size", None)
    return (), bound, callbacks


def _positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def plain_arrays(value):
    """The arrays of `x`, `(x,)` or `(x, y)` if they are NumPy arrays with
    one first dimension, else `None`."""
    arrays = value if isinstance(value, tuple) else (value,)
    if not 1 <= len(arrays) <= 2 or not all(isinstance(a, np.ndarray) and a.ndim >= 1 for a in arrays):
        return None
    if len({len(a) for a in arrays}) != 1 or len(arrays[0]) == 0:
        return None
    return arrays


def array_dataset(arrays, batch_size, shuffle, order=None, cast_floats=True):
    """A `tf.data.Dataset` of `tuple(a[batch] for a in arrays)`, as Keras
    batches arrays for `fit`: every epoch in a new order if `shuffle`
    (`tf.random.shuffle`, seeded as Keras's own), the last batch partial,
    floats cast to `keras.backend.floatx()` if `cast_floats`, and the number
    of batches known (progress bars and callbacks see it from the first
    epoch). `order`, if given, is called as each epoch starts and returns
    that epoch's order of the rows (a permutation), in place of `shuffle`."""
    import tensorflow as tf

    floatx = keras.backend.floatx()
    tensors = []
    for a in arrays:
        t = tf.convert_to_tensor(a)
        cast = cast_floats and t.dtype.is_floating and t.dtype.name != floatx
        tensors.append(tf.cast(t, floatx) if cast else t)
    tensors = tuple(tensors)
    n = len(arrays[0])
    full, rest = divmod(n, batch_size)

    def epoch_order(_):
        if order is not None:
            indices = tf.numpy_function(lambda: np.asarray(order(), np.int64), [], tf.int64, stateful=True)
            indices = tf.ensure_shape(indices, (n,))
        else:
            indices = tf.range(n, dtype=tf.int64)
            if shuffle:
                indices = tf.random.shuffle(indices)
        batches = tf.data.Dataset.from_tensor_slices(tf.reshape(indices[: full * batch_size], (full, batch_size)))
        if rest:
            batches = batches.concatenate(tf.data.Dataset.from_tensors(indices[full * batch_size :]))
        return batches

    def gather(indices, data):
        return tuple(tf.gather(t, indices, axis=0) for t in data)

    # The arrays enter as one repeated element, as in Keras's own pipeline,
    # rather than as constants of the map function.
    dataset = tf.data.Dataset.zip(
        (tf.data.Dataset.range(1).flat_map(epoch_order), tf.data.Dataset.from_tensors(tensors).repeat())
    )
    dataset = dataset.map(gather).apply(tf.data.experimental.assert_cardinality(full + (rest > 0)))
    dataset = dataset.prefetch(PREFETCH)
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    if shuffle or order is not None:
        options.experimental_external_state_policy = tf.data.experimental.ExternalStatePolicy.IGNORE
    return dataset.with_options(options)


def image_batches_dataset(batches):
    """`array_dataset` of an `ImageBatches`' images (and labels), each
    epoch in the order the `ImageBatches` holds as it starts, or `None`
    where Keras's `PyDataset` pipeline is needed (a `transform`, a
    subclass, worker threads or processes). The caller calls
    `batches.on_epoch_end()` once before training and after every epoch,
    as Keras's pipeline does."""
    from keras_recon.data.batches import ImageBatches

    if type(batches) is not ImageBatches or batches.transform is not None or len(batches.images) == 0:
        return None
    if batches.workers > 1 or batches.use_multiprocessing:
        return None
    arrays = (batches.images,) if batches.labels is None else (batches.images, batches.labels)
    return array_dataset(arrays, batches.batch_size, False, order=lambda: batches.order, cast_floats=False)
