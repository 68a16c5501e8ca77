"""Trains a VAE and a WAE on one device, then data-parallel on two virtual
CPU devices, from the same initial weights, and prints both loss curves.

JAX: `keras.distribution.DataParallel`, with
XLA_FLAGS=--xla_force_host_platform_device_count=2.
TensorFlow: `tf.distribute.MirroredStrategy` over two logical CPUs.
"""

import json
import os

BACKEND = os.environ["KERAS_BACKEND"]
if BACKEND == "tensorflow":
    import tensorflow as tf

    # Logical devices must be configured before TensorFlow starts.
    _cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

import keras_recon  # noqa: E402
from keras_recon.callbacks import GammaBalancer  # noqa: E402
from keras_recon.likelihoods import Gaussian  # noqa: E402
from keras_recon.losses import LogCosh  # noqa: E402
from keras_recon.models import VAE  # noqa: E402
from keras_recon.models import WAE  # noqa: E402
from keras_recon.models import architectures  # noqa: E402


def build(kind):
    if kind == "VAE-balanced":
        return VAE(*architectures.mlp((28, 28, 1), 4, hidden=(64,)), seed=5,
                   likelihood=Gaussian(gamma="computed"))
    if kind == "VAE":
        return VAE(*architectures.mlp((28, 28, 1), 4, hidden=(64,)), seed=5)
    return WAE(*architectures.mlp((28, 28, 1), 4, hidden=(64,), gaussian=False), seed=5)


def fit(model, x, weights):
    model(x[:2])
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=LogCosh(a=100))
    balancer = GammaBalancer()
    callbacks = [balancer] if getattr(model, "likelihood", None) is not None else []
    history = model.fit(x, epochs=2, batch_size=64, shuffle=False, verbose=0, callbacks=callbacks)
    out = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    out["gamma_trajectory"] = balancer.trajectory
    if callbacks:
        # The running MSE as the model holds it after training.
        out["running_mse"] = float(keras.ops.convert_to_numpy(model.likelihood.running_statistic))
    return out


def run_jax(kind, x, weights):
    import jax

    keras.distribution.set_distribution(None)
    single = fit(build(kind), x, weights)
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
    model = build(kind)
    parallel = fit(model, x, weights)
    keras.distribution.set_distribution(None)
    # How many devices hold the weights: 2 when the run really was parallel.
    parallel["replicas"] = len(model.trainable_variables[0].value.sharding.device_set)
    return single, parallel


_STRATEGY = []


def run_tensorflow(kind, x, weights):
    single = fit(build(kind), x, weights)
    # One strategy per process: a second one's collectives fail on CPU.
    if not _STRATEGY:
        _STRATEGY.append(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    strategy = _STRATEGY[0]
    with strategy.scope():
        model = build(kind)
        parallel = fit(model, x, weights)
    parallel["replicas"] = strategy.num_replicas_in_sync
    return single, parallel


def main():
    x, _ = keras_recon.data.load_embedded_mnist()
    x = x[::20][:256]
    results = {}
    for kind in ("VAE", "WAE", "VAE-balanced"):
        keras.utils.set_random_seed(0)
        template = build(kind)
        template(x[:2])
        weights = template.get_weights()
        run = run_jax if BACKEND == "jax" else run_tensorflow
        single, parallel = run(kind, x, weights)
        results[kind] = {"single": single, "parallel": parallel}
    print("RESULT " + json.dumps(results))


if __name__ == "__main__":
    main()
