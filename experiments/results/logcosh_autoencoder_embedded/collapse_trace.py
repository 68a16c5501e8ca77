"""Per-epoch trace of the zero-bias collapse in examples/logcosh_autoencoder.py.

The example's model and data (4,500 embedded digits for training, 500
held out, Adam 1e-3, batch 100, seed 0), trained for 10 epochs with the
squared L2 loss, Keras's own "mae" and LogCosh(a=100), once with the
output layer's bias at 0 and once at the logit of the mean training
image. After every epoch, on the held-out digits: the outputs' spread
across images (mean over pixels of the standard deviation), the share
of output pre-activations below -6, and the share of each decoder ReLU
layer's 500 units that are zero on every held-out digit.

    KERAS_BACKEND=jax python experiments/results/logcosh_autoencoder_embedded/collapse_trace.py
"""

import json
import os
import runpy

import keras
import numpy as np

import keras_recon

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = runpy.run_path(os.path.join(HERE, "..", "..", "..", "examples", "logcosh_autoencoder.py"))


def main(epochs=10):
    x, _ = keras_recon.data.load_embedded_mnist(flatten=True)
    order = np.random.default_rng(0).permutation(len(x))
    x_train, x_test = x[order[:4500]], x[order[4500:]]
    mean = np.clip(x_train.mean(axis=0), 1e-3, 1 - 1e-3)
    biases = {"zeros": np.zeros(784), "mean": np.log(mean / (1 - mean))}
    for bias_name, bias in biases.items():
        for key in ("l2", "mae", "logcosh"):
            name, make_loss = EXAMPLE["LOSSES"][key]
            keras.utils.set_random_seed(0)
            model, logits = EXAMPLE["mlp_autoencoder"](bias)
            decoder_relus = keras.Model(model.inputs, [model.layers[i].output for i in (4, 5)])
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=make_loss())
            rows = []

            def probe(epoch, logs, model=model, logits=logits, decoder_relus=decoder_relus, rows=rows):
                recon = np.asarray(model.predict(x_test, verbose=0))
                hidden = decoder_relus.predict(x_test, verbose=0)
                rows.append({
                    "epoch": epoch + 1,
                    "spread": round(float(np.mean(np.std(recon, axis=0))), 4),
                    "saturated": round(float(np.mean(np.asarray(logits.predict(x_test, verbose=0)) < -6.0)), 3),
                    "dead_decoder_relus": [round(float(np.mean(np.all(np.asarray(h) <= 0, axis=0))), 3)
                                           for h in hidden],
                })

            model.fit(x_train, x_train, batch_size=100, epochs=epochs, verbose=0,
                      callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=probe)])
            print(json.dumps({"output_bias": bias_name, "loss": name, "epochs": rows}), flush=True)


if __name__ == "__main__":
    main()
