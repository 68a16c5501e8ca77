"""The one module of keras_recon that asks which backend runs.

Everything else is written in `keras.ops` and runs unchanged on JAX,
TensorFlow and PyTorch. Two questions have no backend-neutral answer in
Keras's public API, and are answered here.
"""

import keras


def is_traced(x):
    """True when `x` is symbolic (inside `jit`, `tf.function` or
    `torch.compile`, or a `KerasTensor`), so its values cannot be read now."""
    if isinstance(x, keras.KerasTensor):
        return True
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return isinstance(x, jax.core.Tracer)
    if backend == "tensorflow":
        import tensorflow as tf

        return not tf.executing_eagerly()
    if backend == "torch":
        import torch

        return torch.compiler.is_compiling()
    return False


def replicas_in_sync():
    """Replicas of a `tf.distribute` strategy (1 elsewhere).

    Under `tf.distribute` each replica's loss is divided by the replica
    count before the gradients are summed; Keras `Loss` objects do this
    division themselves, and a model that sums its own terms must too.
    """
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync
