"""The one module of keras_recon that asks which backend runs.

Everything else is written in `keras.ops` and runs unchanged on JAX,
TensorFlow and PyTorch. Three questions have no backend-neutral answer in
Keras's public API and are answered here (`is_traced`,
`replicas_in_sync`, `sync_model_state`). Engine-specific code lives in one
module per backend, reached from the two dispatch points here: each
engine's multi-process set-up and collectives (`keras_recon.backend.jax`,
`keras_recon.backend.tensorflow`; PyTorch's refusal in
`keras_recon.backend.torch`) through `engine()`, for the backend-neutral
`keras_recon.distributed`; and the one backend-specific fast path,
PyTorch's fused Adam in `keras_recon.backend.torch`, through
`fused_adam_update()`, for `keras_recon.optimizers.Adam`.
"""

import keras


def engine():
    """The running backend's module of multi-process code.

    Each of `keras_recon.backend.jax`, `.tensorflow` and `.torch` offers
    `start_processes(coordinator, num_processes, process_id)`,
    `start_from_cluster_config()`, `all_gather(values, count)` and
    `FEEDS_SHARE` (whether each process feeds `fit` its own share of each
    global batch).
    """
    backend = keras.backend.backend()
    if backend == "jax":
        from keras_recon.backend import jax as module
    elif backend == "tensorflow":
        from keras_recon.backend import tensorflow as module
    elif backend == "torch":
        from keras_recon.backend import torch as module
    else:
        raise NotImplementedError(
            f"Keras has no multi-process data parallelism on the {backend} backend; "
            "train on several processes with KERAS_BACKEND=jax or tensorflow."
        )
    return module


def fused_adam_update(optimizer, grads, variables, learning_rate):
    """Applies `keras_recon.optimizers.Adam`'s step with PyTorch's fused
    kernel and returns True, on PyTorch where the kernel takes these
    variables; returns False (nothing applied) elsewhere."""
    if keras.backend.backend() != "torch":
        return False
    from keras_recon.backend import torch as module

    return module.fused_adam_update(optimizer, grads, variables, learning_rate)


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


def sync_model_state(model):
    """Makes `model`'s variables hold the values its training steps produced.

    Keras's JAX trainer keeps the state of a running `fit` outside the
    variables and writes it back at the end of an epoch; a checkpoint
    written in the middle of one must ask for it first
    (`Model.jax_state_sync`). The other backends update the variables in
    place.
    """
    if keras.backend.backend() == "jax":
        model.jax_state_sync()
