"""JAX's multi-process engine behind `keras_recon.distributed`.

`keras.distribution.initialize` starts `jax.distributed`; a
`keras.distribution.DataParallel` over every process's devices then makes
each model train data-parallel. Every process hands `fit` its own share of
each global batch, and Keras joins the shares into the global batch.
"""

import keras
import numpy as np

# Each process feeds its own share of each global batch.
FEEDS_SHARE = True


def start_processes(coordinator, num_processes, process_id):
    """Joins `num_processes` processes through `jax.distributed`.

    Args:
        coordinator: `"host:port"` of process 0; of a comma-separated list
            of every process's address, the first.
        num_processes: Number of processes.
        process_id: This process's index.
    """
    import jax

    if not coordinator:
        raise ValueError("JAX needs the coordinator's address (KERAS_RECON_COORDINATOR=host:port)")
    # CPU devices of different processes reduce through gloo; GPUs and TPUs
    # use their own collectives and ignore this.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    keras.distribution.initialize(coordinator.split(",")[0], num_processes, process_id)
    distribution = keras.distribution.DataParallel(devices=jax.devices())
    # Each process hands `fit` its own share (arrays, `ImageBatches` or
    # `tf.data`); Keras joins the shares into the global batch.
    distribution.auto_shard_dataset = False
    keras.distribution.set_distribution(distribution)


def start_from_cluster_config():
    """JAX reads no cluster configuration of its own: `None`."""
    return None


def all_gather(values, count):
    """Every process's float64 `values`, stacked in process order.

    Exact: the float64 bits travel as unsigned integers.
    """
    from jax.experimental import multihost_utils

    bits = values.reshape(-1).view(np.uint32)
    gathered = np.asarray(multihost_utils.process_allgather(bits, tiled=False))
    return np.ascontiguousarray(gathered, dtype=np.uint32).view(np.float64).reshape((count,) + values.shape)
