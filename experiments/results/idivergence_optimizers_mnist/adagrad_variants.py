"""Adagrad's three readings on the thesis's ReLU-ReLU MSE autoencoder.

The 784-32-784 ReLU-ReLU autoencoder with the MSE, learning rate 0.01,
batch 256, the first 20,000 MNIST training digits, 8 epochs, seed 0,
under: Keras 3's Adagrad as it comes (accumulators from 0.1, epsilon
inside the root), Keras 3's Adagrad with `initial_accumulator_value=0`
(epsilon still inside the root), and Keras 2.2's rule
(`keras_recon.optimizers.Keras22Adagrad`: from 0, epsilon outside).
Prints the training MSE per epoch, the SSIM of 2,000 test digits, and
the fraction of the 32 code units that are dead (zero on every one of
those test digits).

    KERAS_RECON_DATA=/work/shared/datasets KERAS_BACKEND=jax \
        python experiments/results/idivergence_optimizers_mnist/adagrad_variants.py
"""

import json
import sys

import keras
import numpy as np

from keras_recon import data
from keras_recon import metrics
from keras_recon import optimizers


def variants():
    return {
        "keras3_default": lambda: keras.optimizers.Adagrad(0.01),
        "keras3_from_0": lambda: keras.optimizers.Adagrad(0.01, initial_accumulator_value=0.0, epsilon=1e-7),
        "keras22": lambda: optimizers.Keras22Adagrad(0.01, epsilon=1e-7),
    }


def main(epochs=8, train_images=20000):
    x, _ = data.load_mnist(None, "train")
    xt, _ = data.load_mnist(None, "test")
    x, xt = x[:train_images].reshape(-1, 784), xt[:2000].reshape(-1, 784)
    out = {}
    for name, make in variants().items():
        keras.utils.set_random_seed(0)
        inputs = keras.Input((784,))
        code = keras.layers.Dense(32, activation="relu")(inputs)
        model = keras.Model(inputs, keras.layers.Dense(784, activation="relu")(code))
        model.compile(optimizer=make(), loss="mse")
        history = model.fit(x, x, epochs=epochs, batch_size=256, shuffle=True, verbose=0).history["loss"]
        recon = np.clip(model.predict(xt, batch_size=1000, verbose=0), 0.0, 1.0)
        codes = keras.Model(inputs, code).predict(xt, batch_size=1000, verbose=0)
        out[name] = {
            "train_mse_per_epoch": [round(float(v), 5) for v in history],
            "test_ssim": float(np.mean(keras.ops.convert_to_numpy(
                metrics.ssim(xt.reshape(-1, 28, 28, 1), recon.reshape(-1, 28, 28, 1))))),
            "dead_code_units": int(np.sum(np.all(codes == 0.0, axis=0))),
        }
        print(name, json.dumps(out[name]), flush=True)
    return out


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
