"""Backend-neutral helpers for the tests: gradients and NumPy conversion."""

import keras
import numpy as np
from keras import ops

BACKEND = keras.backend.backend()


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def value_and_grads(fn, *args):
    """Value of `fn(*args)` and the gradient of its sum w.r.t. every arg.

    Arguments are NumPy arrays; the function receives backend tensors.
    Returns `(value, [grad_0, grad_1, ...])` as NumPy arrays.
    """
    if BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        tensors = [jnp.asarray(a) for a in args]

        def total(*ts):
            out = fn(*ts)
            return jnp.sum(out), out

        (_, value), grads = jax.value_and_grad(
            total, argnums=tuple(range(len(args))), has_aux=True
        )(*tensors)
        return np.asarray(value), [np.asarray(g) for g in grads]
    if BACKEND == "tensorflow":
        import tensorflow as tf

        tensors = [tf.constant(a) for a in args]
        with tf.GradientTape() as tape:
            for t in tensors:
                tape.watch(t)
            value = fn(*tensors)
            total = tf.reduce_sum(value)
        grads = tape.gradient(total, tensors)
        return value.numpy(), [g.numpy() for g in grads]
    if BACKEND == "torch":
        import torch

        tensors = [torch.tensor(a, requires_grad=True) for a in args]
        value = fn(*tensors)
        value.sum().backward()
        return value.detach().numpy(), [t.grad.numpy() for t in tensors]
    raise NotImplementedError(BACKEND)
