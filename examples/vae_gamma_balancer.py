"""A VAE whose reconstruction/KL balance is computed, not tuned (Asperti and Trentin 2020).

The Gaussian decoder's variance `gamma**2` follows the running minimum of
the minibatch MSE (`Gaussian(gamma="computed")`); keras_recon's VAE adds the
`GammaBalancer` callback to `fit` itself. `LatentStats` logs the variance
law and the inactive latents after each epoch, `SampleGrid` saves
reconstructions and samples as PNGs:

    KERAS_BACKEND=tensorflow python examples/vae_gamma_balancer.py --epochs 20
"""

import argparse

import keras
import numpy as np

import keras_recon
from keras_recon.callbacks import LatentStats
from keras_recon.callbacks import SampleGrid
from keras_recon.likelihoods import Gaussian
from keras_recon.models import VAE
from keras_recon.models import architectures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--limit", type=int, default=5000, help="use only this many of the digits")
    parser.add_argument("--out", default="runs/vae_gamma_balancer")
    args = parser.parse_args()
    if args.epochs < 1 or args.limit < 20:
        parser.error("--epochs must be positive and --limit at least 20")

    x, _ = keras_recon.data.load_embedded_mnist()
    x = x[: args.limit]
    split = int(0.9 * len(x))
    x_train, x_test = x[:split], x[split:]

    keras.utils.set_random_seed(0)
    vae = VAE(*architectures.mlp((28, 28, 1), latent_dim=16), likelihood=Gaussian(gamma="computed"), seed=0)
    vae.compile(optimizer=keras_recon.optimizers.Adam(1e-3))
    history = vae.fit(
        x_train, epochs=args.epochs, batch_size=100, verbose=2,
        callbacks=[LatentStats(x_test), SampleGrid(x_test[:10], args.out)],
    )
    gamma = history.history["gamma"]
    print(f"gamma after each epoch: {' '.join(f'{g:.4f}' for g in gamma)}")
    print(f"held-out MSE: {float(np.mean((vae.reconstruct(x_test) - x_test) ** 2)):.5f}")
    print(f"variance law: {history.history['variance_law'][-1]:.3f}, "
          f"inactive latents: {int(history.history['inactive_latents'][-1])} of 16")
    print(f"reconstructions and samples: {args.out}/")


if __name__ == "__main__":
    main()
