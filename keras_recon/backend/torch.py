"""PyTorch's fused Adam kernel behind `keras_recon.optimizers.Adam`, and
PyTorch's answer to `keras_recon.distributed`: Keras has no multi-process
data parallelism for this backend, so `start_processes` refuses.

The one backend-specific fast path of the package: on PyTorch, Keras's Adam
makes ten passes over the parameters per step through `torch._foreach_*`
operations, five of which allocate a copy of every parameter tensor; the
fused kernel makes one in-place pass. Its effect on a real model's training
step is measured in `benchmarks/results/handwritten_torch.md`.
"""

import keras
from keras import ops

# No multi-process engine: nothing is split between processes.
FEEDS_SHARE = False


def start_processes(coordinator, num_processes, process_id):
    """Refuses: Keras has no multi-process data parallelism on PyTorch."""
    raise NotImplementedError(
        "Keras has no multi-process data parallelism on the torch backend; "
        "train on several processes with KERAS_BACKEND=jax or tensorflow."
    )


def start_from_cluster_config():
    """No cluster configuration is read on PyTorch: `None`."""
    return None


def all_gather(values, count):
    """Unreachable: no group of several processes starts on PyTorch."""
    raise NotImplementedError("Keras has no multi-process data parallelism on the torch backend")


# Float dtypes PyTorch's fused Adam kernel accepts on CPU and CUDA.
FUSED_DTYPES = ("float16", "bfloat16", "float32", "float64")
# A step count at which PyTorch's own bias corrections are exactly 1:
# beta ** 2**100 underflows to 0 for every float below 1, in float32 and in
# float64, so the kernel applies the learning rate it is given (Keras's
# corrected step size) as is. Adding 1 to it leaves it unchanged.
NEUTRAL_STEP = 2.0**100


def fusable(grads, values):
    """Whether one fused kernel call can update all of `values`: one float
    dtype and one CPU or CUDA device for every tensor, none sparse."""
    first = values[0]
    if first.device.type not in ("cpu", "cuda"):
        return False
    if keras.backend.standardize_dtype(first.dtype) not in FUSED_DTYPES:
        return False
    return all(
        t.dtype == first.dtype and t.device == first.device and not t.is_sparse
        for t in values + list(grads)
    )


def fused_adam_update(optimizer, grads, variables, learning_rate):
    """Applies Keras's Adam step to `variables` with PyTorch's fused kernel.

    Reads the optimizer's moment slots, which Keras keeps in private
    attributes (`_momentums`, `_velocities`, `_velocity_hats`,
    `_get_variable_index`): the kernel must update them in place.

    Returns:
        `True` if the step was applied, `False` if the tensors cannot be
        fused (the caller then takes Keras's generic update).
    """
    import torch
    from torch.optim.adam import adam

    values = [v.value for v in variables]
    if not fusable(grads, values):
        return False
    dtype = values[0].dtype
    step = ops.cast(optimizer.iterations + 1, dtype)
    beta_1 = ops.cast(optimizer.beta_1, dtype)
    beta_2 = ops.cast(optimizer.beta_2, dtype)
    alpha = (
        ops.cast(learning_rate, dtype)
        * ops.sqrt(1 - ops.power(beta_2, step))
        / (1 - ops.power(beta_1, step))
    )
    index = [optimizer._get_variable_index(v) for v in variables]
    momentums = [optimizer._momentums[i].value for i in index]
    velocities = [optimizer._velocities[i].value for i in index]
    maxima = (
        [optimizer._velocity_hats[i].value for i in index]
        if optimizer.amsgrad
        else []
    )
    # One counter shared by every tensor: the kernel only reads it (and
    # adds 1, which float32 cannot represent at 2**100).
    steps = [torch.full((), NEUTRAL_STEP, device=values[0].device)] * len(values)
    with torch.no_grad():
        adam(values, list(grads), momentums, velocities, maxima, steps,
             fused=True, amsgrad=optimizer.amsgrad,
             beta1=float(optimizer.beta_1), beta2=float(optimizer.beta_2),
             lr=alpha, weight_decay=0.0, eps=float(optimizer.epsilon),
             maximize=False)
    return True
