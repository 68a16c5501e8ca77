"""Data-parallel training over several processes, on one host or many.

keras_recon writes no coordination of its own: each backend's engine
starts the processes' runtime and reduces the gradients.

- JAX: `keras.distribution.initialize` (which starts `jax.distributed`)
  and `keras.distribution.DataParallel` over every process's devices. On
  CPUs the collectives are gloo's. Every process feeds its own share of
  each global batch (`process_share`, `shard_batches`); Keras assembles the
  shares into one global batch, so the loss terms (the KL, the WAE's MMD,
  a likelihood's scale statistic) are those of the global batch.
- TensorFlow: `tf.distribute.MultiWorkerMirroredStrategy`, configured by
  `TF_CONFIG`. `fit` splits every global batch between the workers itself;
  each replica computes its terms on its part (the MMD is then a
  per-replica estimate, as under `MirroredStrategy`).
- PyTorch: Keras has no multi-process data parallelism for this backend;
  `initialize` refuses it.

Call `initialize_from_env()` (or `initialize(...)`) first thing in the
program, before any model, tensor or dataset exists:

```text
KERAS_RECON_NUM_PROCESSES   number of processes (more than 1 turns this on)
KERAS_RECON_PROCESS_ID      this process's index, 0 .. count - 1
KERAS_RECON_COORDINATOR     host:port of process 0; on TensorFlow, every
                            process's host:port, process 0 first, comma-
                            separated (or set TF_CONFIG instead)
```
"""

import json
import os

import keras
import numpy as np

ENV_COORDINATOR = "KERAS_RECON_COORDINATOR"
ENV_NUM_PROCESSES = "KERAS_RECON_NUM_PROCESSES"
ENV_PROCESS_ID = "KERAS_RECON_PROCESS_ID"

_STATE = {"count": 1, "index": 0, "strategy": None}


def initialize(coordinator, num_processes, process_id):
    """Joins this process to a data-parallel group of `num_processes`.

    On JAX, sets a `keras.distribution.DataParallel` over every process's
    devices as the global distribution; on TensorFlow, sets a
    `MultiWorkerMirroredStrategy` as the global strategy. Models built
    afterwards train data-parallel with no further change.

    Args:
        coordinator: `"host:port"` of process 0 (JAX), or every process's
            `"host:port"`, process 0 first, comma-separated (TensorFlow
            needs them all unless `TF_CONFIG` is set; JAX uses the first).
        num_processes: Number of processes.
        process_id: This process's index, from `0` to `num_processes - 1`.
    """
    num_processes, process_id = int(num_processes), int(process_id)
    if num_processes < 1 or not 0 <= process_id < num_processes:
        raise ValueError(
            f"Expected 0 <= process_id < num_processes; received process_id={process_id}, "
            f"num_processes={num_processes}"
        )
    backend = keras.backend.backend()
    if backend == "jax":
        _initialize_jax(coordinator, num_processes, process_id)
    elif backend == "tensorflow":
        _initialize_tensorflow(coordinator, num_processes, process_id)
    else:
        raise NotImplementedError(
            f"Keras has no multi-process data parallelism on the {backend} backend; "
            "train on several processes with KERAS_BACKEND=jax or tensorflow."
        )
    _STATE.update(count=num_processes, index=process_id)


def initialize_from_env():
    """`initialize` from the `KERAS_RECON_*` variables or `TF_CONFIG`.

    Does nothing when neither asks for more than one process.

    Returns:
        `True` if this process joined a group of several.
    """
    count = os.environ.get(ENV_NUM_PROCESSES)
    if count is None and keras.backend.backend() == "tensorflow" and os.environ.get("TF_CONFIG"):
        cluster = json.loads(os.environ["TF_CONFIG"])
        count = len(cluster["cluster"].get("worker", [])) + len(cluster["cluster"].get("chief", []))
        if count > 1:
            _initialize_tensorflow(None, count, None)
            _STATE["count"] = count
            _STATE["index"] = _STATE["strategy"].cluster_resolver.task_id
            return True
        return False
    if count is None or int(count) <= 1:
        return False
    if ENV_PROCESS_ID not in os.environ:
        raise ValueError(f"{ENV_NUM_PROCESSES}={count} needs {ENV_PROCESS_ID} as well")
    initialize(os.environ.get(ENV_COORDINATOR), int(count), int(os.environ[ENV_PROCESS_ID]))
    return True


def _initialize_jax(coordinator, num_processes, process_id):
    import jax

    if not coordinator:
        raise ValueError(f"JAX needs the coordinator's address ({ENV_COORDINATOR}=host:port)")
    # CPU devices of different processes reduce through gloo; GPUs and TPUs
    # use their own collectives and ignore this.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    keras.distribution.initialize(coordinator.split(",")[0], num_processes, process_id)
    distribution = keras.distribution.DataParallel(devices=jax.devices())
    # Each process hands `fit` its own share (arrays, `ImageBatches` or
    # `tf.data`); Keras joins the shares into the global batch.
    distribution.auto_shard_dataset = False
    keras.distribution.set_distribution(distribution)


def _initialize_tensorflow(coordinator, num_processes, process_id):
    import tensorflow as tf

    if not os.environ.get("TF_CONFIG"):
        addresses = [a.strip() for a in (coordinator or "").split(",") if a.strip()]
        if len(addresses) != num_processes:
            raise ValueError(
                f"TensorFlow needs every process's address: set {ENV_COORDINATOR} to "
                f"{num_processes} comma-separated host:port values (received {coordinator!r}) "
                "or set TF_CONFIG"
            )
        os.environ["TF_CONFIG"] = json.dumps(
            {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": process_id}}
        )
    strategy = _multi_worker_strategy()
    tf.distribute.experimental_set_strategy(strategy)
    _STATE["strategy"] = strategy


def _multi_worker_strategy():
    import tensorflow as tf

    class MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        """`MultiWorkerMirroredStrategy` whose `reduce` takes what Keras gives it.

        Keras 3's TensorFlow trainer reduces a nested batch (to build the
        model), scalar logs with `axis=0` and logged Keras variables, which
        this strategy refuses; here each element is reduced alone, scalars
        over replicas only, and variables (the same on every replica) pass.
        """

        def reduce(self, reduce_op, value, axis):
            parent = super()

            def one(v):
                if v is None or isinstance(v, keras.Variable):
                    # Logged as they are, as under `MirroredStrategy`.
                    return v
                t = v.values[0] if isinstance(v, tf.distribute.DistributedValues) else v
                rank = getattr(getattr(t, "shape", None), "rank", None)
                return parent.reduce(reduce_op, v, axis if rank else None)

            return tf.nest.map_structure(one, value)

    return MultiWorkerStrategy()


def process_count():
    """Number of processes in the group (1 without `initialize`)."""
    return _STATE["count"]


def process_index():
    """This process's index in the group (0 without `initialize`)."""
    return _STATE["index"]


def is_writer():
    """Whether this process writes shared files (checkpoints, reports)."""
    return _STATE["index"] == 0


def feeds_share():
    """Whether `fit` must be given this process's share of each batch.

    True on JAX with several processes. On TensorFlow the strategy splits
    every global batch between the workers itself, so each gives `fit` the
    whole data.
    """
    return _STATE["count"] > 1 and keras.backend.backend() == "jax"


def process_share(x, global_batch_size, *, count=None, index=None):
    """The rows of `x` this process feeds, batch by batch.

    Global batch `b` is `x[b * G : (b + 1) * G]`; process `i` of `n` feeds
    its `i`-th contiguous part, `G / n` rows (of the last, shorter batch
    too). Batched with `G / n` rows, the result holds exactly the parts
    that, joined in process order, make each global batch.

    Example:

    >>> process_share(np.arange(8), 4, count=2, index=1)
    array([2, 3, 6, 7])

    Args:
        x: Array with one row per example (the same on every process).
        global_batch_size: `G`, a multiple of the process count.
        count: Number of processes. Defaults to `process_count()`.
        index: This process's index. Defaults to `process_index()`.

    Returns:
        The rows of `x` for this process.
    """
    count = process_count() if count is None else count
    index = process_index() if index is None else index
    if global_batch_size % count:
        raise ValueError(
            f"The batch size {global_batch_size} must be a multiple of the {count} processes"
        )
    last = len(x) % global_batch_size
    if last % count:
        raise ValueError(
            f"The last batch holds {last} of {len(x)} examples, not a multiple of the {count} "
            "processes; use a number of examples that splits evenly"
        )
    rows = np.arange(len(x))
    starts = rows[::global_batch_size]
    sizes = np.minimum(global_batch_size, len(x) - starts) // count
    keep = np.concatenate([np.arange(s + index * n, s + (index + 1) * n) for s, n in zip(starts, sizes)])
    return x[keep]


def shard_batches(dataset):
    """This process's part of each global batch of a batched `tf.data.Dataset`.

    `dataset` yields global batches; the result yields this process's
    contiguous part of each (as `process_share` does for arrays).
    """
    count = process_count()
    if count == 1:
        return dataset
    import tensorflow as tf

    size = tf.data.experimental.get_structure(dataset)
    first = tf.nest.flatten(size)[0].shape[0]
    if first is None or first % count:
        raise ValueError(
            f"Batch the dataset with a static global batch size that is a multiple of {count} "
            f"(`dataset.batch(G, drop_remainder=True)`); its batch dimension is {first}"
        )
    return dataset.rebatch(first // count).shard(count, process_index())


def all_gather(values):
    """Every process's `values`, stacked in process order, in float64.

    Exact: on JAX the float64 bits travel as unsigned integers.

    Args:
        values: Array of the same shape on every process.

    Returns:
        Array of shape `(process_count(),) + values.shape`, float64.
    """
    values = np.ascontiguousarray(values, dtype=np.float64)
    if process_count() == 1:
        return values[None]
    if keras.backend.backend() == "jax":
        from jax.experimental import multihost_utils

        bits = values.reshape(-1).view(np.uint32)
        gathered = np.asarray(multihost_utils.process_allgather(bits, tiled=False))
        return np.ascontiguousarray(gathered, dtype=np.uint32).view(np.float64).reshape(
            (process_count(),) + values.shape
        )
    import tensorflow as tf

    strategy = _STATE["strategy"]
    result = strategy.run(
        lambda v: tf.distribute.get_replica_context().all_gather(v, axis=0),
        args=(tf.constant(values[None]),),
    )
    gathered = strategy.experimental_local_results(result)[0].numpy()
    # One row per replica: keep each worker's first.
    return gathered[:: len(gathered) // process_count()]


def reduce_across_processes(streamed):
    """Merges streamed sums over the processes' parts of a data set, in place.

    Each process measures its own part of a test set; afterwards every
    process holds the statistics of the whole set, merged from the
    processes' sums (never recomputed on one process):

    - `keras_recon.metrics.FeatureStatistics` (FID's means and
      covariances): counts, sums and cross products, merged exactly;
    - a Keras metric whose variables are sums (`keras.metrics.Mean`,
      `keras_recon.metrics.SSIM`, a `Mean` of `sharpness` values): each
      variable is summed over the processes.

    Args:
        streamed: A `FeatureStatistics` or such a Keras metric.

    Returns:
        `streamed`, merged.
    """
    from keras_recon.metrics.frechet import FeatureStatistics

    if process_count() == 1:
        return streamed
    if isinstance(streamed, FeatureStatistics):
        parts = [FeatureStatistics.from_state(row) for row in all_gather(streamed.state())]
        merged = parts[0]
        for part in parts[1:]:
            merged = merged.merge(part)
        streamed.load_state(merged.state())
        return streamed
    if isinstance(streamed, keras.metrics.Metric):
        variables = streamed.variables
        for v in variables:
            if "sum" not in str(getattr(v, "aggregation", "sum")):
                raise ValueError(f"{streamed.name}: variable {v.path} is not a sum; it cannot be merged")
        flat = np.concatenate([np.ravel(keras.ops.convert_to_numpy(v)) for v in variables])
        total = all_gather(flat).sum(axis=0)
        offset = 0
        for v in variables:
            size = int(np.prod(v.shape))
            v.assign(total[offset : offset + size].reshape(v.shape).astype(v.dtype))
            offset += size
        return streamed
    raise TypeError(f"Cannot merge a {type(streamed).__name__} across processes")


def barrier():
    """Returns when every process has called it."""
    if process_count() > 1:
        all_gather(np.zeros(1))
