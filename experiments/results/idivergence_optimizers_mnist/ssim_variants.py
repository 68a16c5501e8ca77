"""How much the SSIM's definition moves the ReLU-ReLU MSE scores.

The thesis gives SSIM's formula and its 8-bit constants but not its window
or implementation. This script scores the final models of a finished
`keras-recon optimizers` run (their `checkpoints/*.npz`) on all 10,000
MNIST test digits three ways: the package's `keras_recon.metrics.ssim`
(11x11 Gaussian window, sigma 1.5, the study's score), scikit-image's
`structural_similarity` at its defaults (7x7 uniform window, sample
covariance) on the float images, and the same on the images rounded to
8 bits (0-255, data range 255: the thesis's constants).

    KERAS_RECON_DATA=/work/shared/datasets KERAS_BACKEND=jax \
        python experiments/results/idivergence_optimizers_mnist/ssim_variants.py <run folder>
"""

import json
import os
import sys

import keras
import numpy as np
from skimage.metrics import structural_similarity

from keras_recon import data
from keras_recon import metrics

RUNS = ("relu-relu/mse/adam", "relu-relu/mse/adagrad", "relu-relu/mse/adamax")


def dense_weights(path):
    """The four arrays of the 784-32-784 model, by shape, in layer order."""
    with np.load(path, allow_pickle=False) as d:
        arrays = [d[k] for k in sorted((k for k in d.files if k[0] == "v" and k[1:].isdigit()), key=lambda k: int(k[1:]))]
    shapes = [(784, 32), (32,), (32, 784), (784,)]
    return [next(a for a in arrays if a.shape == s) for s in shapes]


def main(folder):
    x_test, _ = data.load_mnist(None, "test")
    flat = x_test.reshape(-1, 784)
    out = {}
    for key in RUNS:
        inputs = keras.Input((784,))
        code = keras.layers.Dense(32, activation="relu")(inputs)
        model = keras.Model(inputs, keras.layers.Dense(784, activation="relu")(code))
        model.set_weights(dense_weights(os.path.join(folder, "checkpoints", key.replace("/", "_") + ".npz")))
        recon = np.clip(model.predict(flat, batch_size=1000, verbose=0), 0.0, 1.0).reshape(-1, 28, 28)
        truth = x_test.reshape(-1, 28, 28)
        ours = float(np.mean(keras.ops.convert_to_numpy(metrics.ssim(truth[..., None], recon[..., None]))))
        uniform = np.mean([structural_similarity(t, r, data_range=1.0) for t, r in zip(truth, recon)])
        as_8bit = [np.round(a * 255).astype(np.uint8) for a in (truth, recon)]
        uniform_8bit = np.mean([structural_similarity(t, r, data_range=255) for t, r in zip(*as_8bit)])
        out[key] = {"gaussian_11": round(ours, 4), "uniform_7": round(float(uniform), 4),
                    "uniform_7_8bit": round(float(uniform_8bit), 4)}
        print(key, json.dumps(out[key]), flush=True)
    return out


if __name__ == "__main__":
    main(sys.argv[1])
