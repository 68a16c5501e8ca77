"""The thesis's clipped I-divergences against the package's `IDivergence`.

The thesis's notebook (Haruguchi, AutoencoderForThesis.ipynb, its
reference 7) computes each I-divergence after clipping both arguments to
[1e-7, 1] with `K.clip`, averaged over pixels; the gradient is zero
wherever an output lies outside that range. The package's `IDivergence`
has no upper clip and continues the logarithms below 1e-7 with a gradient
toward the target. This script trains the study's three rows that differ
most from the thesis, once with each loss and otherwise identically (a
plain `keras.Model` 784-32-784, `fit` with shuffling, full MNIST, batch
256, 50 epochs, seed 0, the study's Keras 2.2 optimizers), and prints the
SSIM of all 10,000 test digits (`keras_recon.metrics.ssim`).

    KERAS_RECON_DATA=/work/shared/datasets KERAS_BACKEND=jax \
        python experiments/results/idivergence_optimizers_mnist/clipped_idivergence.py
"""

import json
import sys

import keras
import numpy as np
from keras import ops

from keras_recon import data
from keras_recon import losses
from keras_recon import metrics
from keras_recon.studies.optimizer_comparison import make_optimizer

ROWS = (("relu", 1, "adamax"), ("relu", 2, "adadelta"), ("sigmoid", 1, "adamax"))


def clipped_i_divergence(direction):
    def loss(y_true, y_pred):
        y_true = ops.clip(y_true, 1e-7, 1.0)
        y_pred = ops.clip(y_pred, 1e-7, 1.0)
        a, b = (y_pred, y_true) if direction == 1 else (y_true, y_pred)
        return ops.mean(a * ops.log(a / b) - a + b, axis=-1)

    return loss


def main(epochs=50):
    x, _ = data.load_mnist(None, "train")
    x_test, _ = data.load_mnist(None, "test")
    x, flat_test = x.reshape(-1, 784), x_test.reshape(-1, 784)
    for output, direction, optimizer in ROWS:
        for name, loss in (("thesis clip", clipped_i_divergence(direction)),
                           ("IDivergence", losses.IDivergence(direction=direction, sample_reduction="mean"))):
            keras.utils.set_random_seed(0)
            inputs = keras.Input((784,))
            code = keras.layers.Dense(32, activation="relu")(inputs)
            model = keras.Model(inputs, keras.layers.Dense(784, activation=output)(code))
            model.compile(optimizer=make_optimizer(optimizer), loss=loss)
            history = model.fit(x, x, epochs=epochs, batch_size=256, shuffle=True, verbose=0).history["loss"]
            recon = np.clip(model.predict(flat_test, batch_size=1000, verbose=0), 0.0, 1.0)
            ssim = float(np.mean(ops.convert_to_numpy(
                metrics.ssim(x_test, recon.reshape(-1, 28, 28, 1)))))
            print(json.dumps({"activations": f"relu-{output}", "loss": f"I-div {direction}", "optimizer": optimizer,
                              "variant": name, "ssim": round(ssim, 4),
                              "final_train_loss": round(float(history[-1]), 5)}), flush=True)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
