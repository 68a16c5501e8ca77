"""One process of a data-parallel group (or a lone reference process).

Run with `KERAS_RECON_NUM_PROCESSES`, `KERAS_RECON_PROCESS_ID` and
`KERAS_RECON_COORDINATOR` for a group, or without them for one process; the
first argument is the folder the results go to. Each process:

- trains Chen et al.'s MLP VAE with a computed Gaussian scale (the running-MSE
  balancer), a WAE (MMD) and an AE with `fit_resumable` on the same global
  batches, from the same initial weights, with checkpoints;
- trains the VAE again with `model.fit` from an `ImageBatches` of the
  global batch size (each process takes its share of every batch);
- trains the VAE again, stopped after step 7 of 8 as a killed run would be,
  and resumes it from its checkpoint in a freshly built model;
- measures FID feature statistics, SSIM and sharpness on its part of a test
  set and merges them across the processes;

and writes `<kind>.npz` (final weights) and `result.json` under
`<folder>/<process index>/`.
"""

import json
import os
import sys

import keras  # noqa: F401  (fixes the backend before the package)

from keras_recon import distributed

distributed.initialize_from_env()

import numpy as np  # noqa: E402

import keras_recon  # noqa: E402
from keras_recon import training  # noqa: E402
from keras_recon.callbacks import GammaBalancer  # noqa: E402
from keras_recon.likelihoods import Gaussian  # noqa: E402
from keras_recon.losses import LogCosh  # noqa: E402
from keras_recon.models import AE  # noqa: E402
from keras_recon.models import VAE  # noqa: E402
from keras_recon.models import WAE  # noqa: E402
from keras_recon.models import architectures  # noqa: E402

GLOBAL_BATCH = 64
EPOCHS = 2


class Killed(Exception):
    pass


class KillAt(keras.callbacks.Callback):
    """Stops the run abruptly after `step` steps, before it checkpoints them."""

    def __init__(self, step):
        super().__init__()
        self.step, self.seen = step, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.step:
            raise Killed


def build(kind):
    keras.utils.set_random_seed(5)
    if kind == "VAE":
        model = VAE(*architectures.mlp((28, 28, 1), 4, hidden=(64,)), seed=5,
                    likelihood=Gaussian(gamma="computed"))
    elif kind == "WAE":
        model = WAE(*architectures.mlp((28, 28, 1), 4, hidden=(64,), gaussian=False), seed=5)
    else:
        model = AE(*architectures.mlp((28, 28, 1), 4, hidden=(64,), gaussian=False))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=LogCosh(a=100))
    return model


def weights(model):
    return [np.asarray(keras.ops.convert_to_numpy(v)) for v in model.weights]


def train(kind, x, shared, kill_at=None, resume=False):
    model = build(kind)
    balancer = GammaBalancer()
    callbacks = [balancer] if kind == "VAE" else []
    if kill_at:
        callbacks.append(KillAt(kill_at))
    path = os.path.join(shared, f"{kind}-{'resumed' if kill_at or resume else 'full'}.npz")
    try:
        history = training.fit_resumable(model, x, epochs=EPOCHS, batch_size=GLOBAL_BATCH, seed=1,
                                          checkpoint=path, checkpoint_every=2, resume=resume,
                                          verbose=0, callbacks=callbacks)
    except Killed:
        return None, None
    out = {"history": history}
    if kind == "VAE":
        out["gamma_trajectory"] = balancer.trajectory
        out["running_mse"] = float(keras.ops.convert_to_numpy(model.likelihood.running_statistic))
    return out, weights(model)


def train_from_batches(x):
    """`model.fit` on an `ImageBatches` of the global batches (no checkpoints)."""
    model = build("VAE")
    balancer = GammaBalancer()
    result = model.fit(keras_recon.data.ImageBatches(x, batch_size=GLOBAL_BATCH, seed=1), epochs=EPOCHS,
                       verbose=0, callbacks=[balancer])
    history = {k: [float(v) for v in values] for k, values in result.history.items()}
    return {"history": history, "gamma_trajectory": balancer.trajectory}, weights(model)


def measure(x):
    """FID statistics, SSIM and sharpness of this process's part, merged."""
    from keras_recon import metrics

    count, index = distributed.process_count(), distributed.process_index()
    part = x[index::count]
    # Deterministic "reconstructions": the images shifted by one pixel.
    shifted = np.roll(part, 1, axis=2)
    stats = metrics.FeatureStatistics()
    for start in range(0, len(part), 50):
        stats.update(part[start : start + 50].reshape(-1, 784)[:, ::16])
    distributed.reduce_across_processes(stats)
    ssim, sharp = keras.metrics.Mean(), keras.metrics.Mean()
    ssim.update_state(metrics.ssim(part, shifted))
    sharp.update_state(metrics.sharpness(part))
    distributed.reduce_across_processes(ssim)
    distributed.reduce_across_processes(sharp)
    return {"count": stats.count, "mean": stats.mean.tolist(), "covariance": stats.covariance.tolist(),
            "ssim": float(ssim.result()), "sharpness": float(sharp.result())}


def main():
    # The checkpoints are shared: process 0 writes them, every process reads.
    shared = sys.argv[1]
    folder = os.path.join(shared, str(distributed.process_index()))
    os.makedirs(folder, exist_ok=True)
    x, _ = keras_recon.data.load_embedded_mnist()
    x = x[::20][:256]
    results = {"processes": distributed.process_count()}
    for kind in ("VAE", "WAE", "AE"):
        out, final = train(kind, x, shared)
        results[kind] = out
        np.savez(os.path.join(folder, f"{kind}.npz"), *final)
    out, final = train_from_batches(x)
    results["VAE-batches"] = out
    np.savez(os.path.join(folder, "VAE-batches.npz"), *final)
    # Killed after step 7 of 8 (the checkpoint holds step 6), then resumed.
    train("VAE", x, shared, kill_at=7)
    out, final = train("VAE", x, shared, resume=True)
    results["VAE-resumed"] = out
    np.savez(os.path.join(folder, "VAE-resumed.npz"), *final)
    results["metrics"] = measure(x[:200])
    with open(os.path.join(folder, "result.json"), "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
