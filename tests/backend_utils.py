"""Backend-neutral helpers for the tests: gradients and NumPy conversion."""

import keras
import numpy as np
from keras import ops

BACKEND = keras.backend.backend()


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def value_and_grads(fn, *args, compiled=False):
    """Value of `fn(*args)` and the gradient of its sum w.r.t. every arg.

    Arguments are NumPy arrays; the function receives backend tensors.
    Returns `(value, [grad_0, grad_1, ...])` as NumPy arrays. `compiled`
    runs it under `jax.jit` or `tf.function(jit_compile=True)` (PyTorch has
    no compiled form here: a `ValueError`).
    """
    if BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        tensors = [jnp.asarray(a) for a in args]

        def total(*ts):
            out = fn(*ts)
            return jnp.sum(out), out

        step = jax.value_and_grad(total, argnums=tuple(range(len(args))), has_aux=True)
        (_, value), grads = (jax.jit(step) if compiled else step)(*tensors)
        return np.asarray(value), [np.asarray(g) for g in grads]
    if BACKEND == "tensorflow":
        import tensorflow as tf

        def step(*tensors):
            with tf.GradientTape() as tape:
                for t in tensors:
                    tape.watch(t)
                value = fn(*tensors)
                total = tf.reduce_sum(value)
            return value, tape.gradient(total, list(tensors))

        step = tf.function(step, jit_compile=True) if compiled else step
        value, grads = step(*[tf.constant(a) for a in args])
        return value.numpy(), [g.numpy() for g in grads]
    if compiled:
        raise ValueError(f"No compiled form on {BACKEND}")
    if BACKEND == "torch":
        import torch

        tensors = [torch.tensor(a, requires_grad=True) for a in args]
        value = fn(*tensors)
        value.sum().backward()
        return value.detach().numpy(), [t.grad.numpy() for t in tensors]
    raise NotImplementedError(BACKEND)


def value_and_pred_grad(fn, y_true, y_pred):
    """Value of `fn(y_true, y_pred)` and the gradient of its sum w.r.t.
    `y_pred` alone, as in training (`y_true` is a constant; on PyTorch it
    does not require a gradient)."""
    if BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        y_true = jnp.asarray(y_true)

        def total(p):
            out = fn(y_true, p)
            return jnp.sum(out), out

        (_, value), grad = jax.value_and_grad(total, has_aux=True)(jnp.asarray(y_pred))
        return np.asarray(value), np.asarray(grad)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        y_true, y_pred = tf.constant(y_true), tf.constant(y_pred)
        with tf.GradientTape() as tape:
            tape.watch(y_pred)
            value = fn(y_true, y_pred)
            total = tf.reduce_sum(value)
        return value.numpy(), tape.gradient(total, y_pred).numpy()
    if BACKEND == "torch":
        import torch

        y_true = torch.tensor(y_true)
        y_pred = torch.tensor(y_pred, requires_grad=True)
        value = fn(y_true, y_pred)
        value.sum().backward()
        return value.detach().numpy(), y_pred.grad.numpy()
    raise NotImplementedError(BACKEND)


TRAINING_WEIGHTS = np.float32([1.0, -2.0, 0.5, 3.0, 0.0])


def assert_training_case(per_sample, y_true, y_pred, elementwise, slope, sample_reduction, *,
                         rtol, value_atol, grad_atol):
    """Checks a loss in the training case against float64 expectations.

    `per_sample(y_true, y_pred)` gives one value per sample (five samples);
    each is weighted by `TRAINING_WEIGHTS` (signs, a zero) and the gradient
    of the weighted sum is taken in `y_pred` alone (`value_and_pred_grad`:
    on eager PyTorch the losses' written-out paths). `elementwise` and
    `slope` are the float64 loss and its derivative per element; they are
    summed or averaged per sample as `sample_reduction` says. The inputs
    must come back unmodified.
    """
    before = (y_true.copy(), y_pred.copy())

    def weighted(t, p):
        return per_sample(t, p) * ops.convert_to_tensor(TRAINING_WEIGHTS)

    value, grad = value_and_pred_grad(weighted, y_true, y_pred)
    batch = len(TRAINING_WEIGHTS)
    count = 1 if sample_reduction == "sum" else elementwise[0].size
    reduce = np.sum if sample_reduction == "sum" else np.mean
    np.testing.assert_allclose(
        value, reduce(elementwise.reshape(batch, -1), axis=1) * TRAINING_WEIGHTS, rtol=rtol, atol=value_atol
    )
    weights = TRAINING_WEIGHTS.reshape((batch,) + (1,) * (y_pred.ndim - 1))
    np.testing.assert_allclose(grad, slope * weights / count, rtol=rtol, atol=grad_atol)
    np.testing.assert_array_equal(y_true, before[0])
    np.testing.assert_array_equal(y_pred, before[1])
