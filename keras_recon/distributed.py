"""Data-parallel training over several processes, on one host or many.

keras_recon writes no coordination of its own: each backend's engine
starts the processes' runtime and reduces the gradients.

- JAX: `keras.distribution.initialize` (which starts `jax.distributed`)
  and `keras.distribution.DataParallel` over every process's devices. On
  CPUs the collectives are gloo's. Every process feeds its own share of
  each global batch (`process_share`, `shard_batches`, or a
  `data.ImageBatches` of the global batch size); Keras assembles the
  shares into one global batch, so the loss terms (the KL, the WAE's MMD,
  a likelihood's scale statistic) are those of the global batch.
- TensorFlow: `tf.distribute.MultiWorkerMirroredStrategy`, configured by
  `TF_CONFIG`. `fit` splits every global batch between the workers itself;
  each replica computes its terms on its part (the MMD is then a
  per-replica estimate, as under `MirroredStrategy`).
- PyTorch: Keras has no multi-process data parallelism for this backend;
  `initialize` refuses it.

The engines' code lives in `keras_recon.backend.jax` and
`keras_recon.backend.tensorflow` (PyTorch's refusal in
`keras_recon.backend.torch`), reached through `keras_recon.backend.engine`;
this module asks no backend questions.

Call `initialize_from_env()` (or `initialize(...)`) first thing in the
program, before any model, tensor or dataset exists:

```text
KERAS_RECON_NUM_PROCESSES   number of processes (more than 1 turns this on)
KERAS_RECON_PROCESS_ID      this process's index, 0 .. count - 1
KERAS_RECON_COORDINATOR     host:port of process 0; on TensorFlow, every
                            process's host:port, process 0 first, comma-
                            separated (or set TF_CONFIG instead)
```

`local_environments(n)` returns these variables for `n` processes on
this host.
"""

import os
import socket

import keras
import numpy as np

from keras_recon import backend

ENV_COORDINATOR = "KERAS_RECON_COORDINATOR"
ENV_NUM_PROCESSES = "KERAS_RECON_NUM_PROCESSES"
ENV_PROCESS_ID = "KERAS_RECON_PROCESS_ID"
# Every variable that launches a group; `local_environments` clears them.
LAUNCH_VARIABLES = (ENV_NUM_PROCESSES, ENV_PROCESS_ID, ENV_COORDINATOR, "TF_CONFIG")

_STATE = {"count": 1, "index": 0}


def initialize(coordinator, num_processes, process_id):
    """Joins this process to a data-parallel group of `num_processes`.

    On JAX, sets a `keras.distribution.DataParallel` over every process's
    devices as the global distribution; on TensorFlow, sets a
    `MultiWorkerMirroredStrategy` as the global strategy. Models built
    afterwards train data-parallel with no further change. The engines'
    code is in `keras_recon.backend.jax` and `keras_recon.backend.tensorflow`.

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
    backend.engine().start_processes(coordinator, num_processes, process_id)
    _STATE.update(count=num_processes, index=process_id)


def initialize_from_env():
    """`initialize` from the `KERAS_RECON_*` variables or `TF_CONFIG`.

    Does nothing when neither asks for more than one process, or when this
    process has already joined its group (so a program may call it more
    than once).

    Returns:
        `True` if this process is in a group of several.
    """
    if _STATE["count"] > 1:
        return True
    count = os.environ.get(ENV_NUM_PROCESSES)
    if count is None:
        joined = backend.engine().start_from_cluster_config() if os.environ.get("TF_CONFIG") else None
        if joined is None:
            return False
        _STATE.update(count=joined[0], index=joined[1])
        return True
    if int(count) <= 1:
        return False
    if ENV_PROCESS_ID not in os.environ:
        raise ValueError(f"{ENV_NUM_PROCESSES}={count} needs {ENV_PROCESS_ID} as well")
    initialize(os.environ.get(ENV_COORDINATOR), int(count), int(os.environ[ENV_PROCESS_ID]))
    return True


def local_environments(count, environ=None):
    """The environments of `count` processes launched on this host.

    Each is `environ` (defaults to `os.environ`) without any launch
    variable it holds (the `KERAS_RECON_*` ones and `TF_CONFIG`), plus,
    for more than one process, the variables that join process `i` to the
    others through free localhost ports. Start the same program once with
    each, for instance with `subprocess.Popen(command, env=env)`.

    Example:

    >>> tuple(env["KERAS_RECON_PROCESS_ID"] for env in local_environments(2, {}))
    ('0', '1')

    Args:
        count: Number of processes.
        environ: Mapping to start from. Defaults to `os.environ`.

    Returns:
        A list of `count` dictionaries, process 0's first.
    """
    base = dict(os.environ if environ is None else environ)
    for key in LAUNCH_VARIABLES:
        base.pop(key, None)
    if count == 1:
        return [base]
    # Every process's address, process 0 first: JAX reads the first,
    # TensorFlow all of them.
    coordinator = ",".join(f"localhost:{port}" for port in _free_ports(count))
    base.update({ENV_NUM_PROCESSES: str(count), ENV_COORDINATOR: coordinator})
    return [dict(base, **{ENV_PROCESS_ID: str(i)}) for i in range(count)]


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


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
    return _STATE["count"] > 1 and backend.engine().FEEDS_SHARE


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

    Exact: the float64 values arrive unrounded.

    Args:
        values: Array of the same shape on every process.

    Returns:
        Array of shape `(process_count(),) + values.shape`, float64.
    """
    values = np.ascontiguousarray(values, dtype=np.float64)
    if process_count() == 1:
        return values[None]
    return backend.engine().all_gather(values, process_count())


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
