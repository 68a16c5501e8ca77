"""TensorFlow's multi-process engine behind `keras_recon.distributed`.

`tf.distribute.MultiWorkerMirroredStrategy`, configured by `TF_CONFIG`
(written from the `KERAS_RECON_*` variables when it is not set), is the
global strategy. `fit` splits every global batch between the workers
itself, so each worker gives it the whole data.
"""

import json
import os

import keras

# The strategy splits each global batch; every worker feeds all of it.
FEEDS_SHARE = False

_STRATEGY = {"strategy": None}


def start_processes(coordinator, num_processes, process_id):
    """Joins `num_processes` workers in a `MultiWorkerMirroredStrategy`.

    Args:
        coordinator: Every process's `"host:port"`, process 0 first,
            comma-separated; not read when `TF_CONFIG` is set.
        num_processes: Number of processes.
        process_id: This process's index.
    """
    if not os.environ.get("TF_CONFIG"):
        addresses = [a.strip() for a in (coordinator or "").split(",") if a.strip()]
        if len(addresses) != num_processes:
            raise ValueError(
                "TensorFlow needs every process's address: set KERAS_RECON_COORDINATOR to "
                f"{num_processes} comma-separated host:port values (received {coordinator!r}) "
                "or set TF_CONFIG"
            )
        os.environ["TF_CONFIG"] = json.dumps(
            {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": process_id}}
        )
    import tensorflow as tf

    strategy = _multi_worker_strategy()
    tf.distribute.experimental_set_strategy(strategy)
    _STRATEGY["strategy"] = strategy


def start_from_cluster_config():
    """Starts the workers `TF_CONFIG` describes, if it names more than one.

    Returns:
        `(count, index)` of this worker, or `None` when `TF_CONFIG` is
        unset or names one worker.
    """
    if not os.environ.get("TF_CONFIG"):
        return None
    cluster = json.loads(os.environ["TF_CONFIG"])["cluster"]
    count = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    if count <= 1:
        return None
    start_processes(None, count, None)
    return count, _STRATEGY["strategy"].cluster_resolver.task_id


def all_gather(values, count):
    """Every worker's float64 `values`, stacked in worker order."""
    import tensorflow as tf

    strategy = _STRATEGY["strategy"]
    result = strategy.run(
        lambda v: tf.distribute.get_replica_context().all_gather(v, axis=0),
        args=(tf.constant(values[None]),),
    )
    gathered = strategy.experimental_local_results(result)[0].numpy()
    # One row per replica: keep each worker's first.
    return gathered[:: len(gathered) // count]


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
