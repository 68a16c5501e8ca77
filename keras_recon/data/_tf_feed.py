"""In-memory arrays (and a plain `ImageBatches`) as a `tf.data` pipeline
that does not autotune, which keras_recon's models hand to `fit` on the
TensorFlow backend.

Keras turns arrays given to `fit` into a `tf.data` pipeline that autotunes
its parallelism and prefetching. Each epoch makes a new iterator of it,
and destroying the last one waits for tf.data's autotuning thread to wake
from its sleep: on the 2-core build machine 0.2-2.7 s in about one epoch
out of three, against a 1.5 s epoch of 10,000 MNIST digits
(`benchmarks/README.md`). Slicing an in-memory batch needs no tuning, so
this pipeline gathers each batch on one prefetch thread, two batches
ahead, and makes epochs whose iterators are destroyed at once.
"""

import numpy as np

# Batches sliced ahead of the training step.
PREFETCH = 2


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
    import keras
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
    return array_dataset(arrays, batches.batch_size, False, order=lambda: batches._order, cast_floats=False)
