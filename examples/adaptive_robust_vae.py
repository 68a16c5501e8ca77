"""A VAE with Barron's adaptive robust likelihood, and the pictures for the docs.

Trains the MLP VAE of the log-cosh paper (Chen et al. 2019) on the 5,000
embedded MNIST digits with a per-pixel adaptive likelihood (alpha in
[0.001, 1.999], one alpha and scale per pixel), then saves `docs/log_partition.png` (log Z(alpha)) and
`docs/alpha_map.png` (the learned alpha of every pixel):

    KERAS_BACKEND=jax python examples/adaptive_robust_vae.py --epochs 20
"""

import argparse
import os

import keras
import numpy as np

import keras_recon
from keras_recon.likelihoods import AdaptiveRobust
from keras_recon.likelihoods import log_partition
from keras_recon.models import VAE
from keras_recon.models import architectures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default="docs")
    parser.add_argument("--limit", type=int, default=5000, help="use only this many of the digits")
    args = parser.parse_args()
    if args.epochs < 1 or args.limit < 1:
        parser.error("--epochs and --limit must be positive")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, _ = keras_recon.data.load_embedded_mnist()
    x = x[: args.limit]
    keras.utils.set_random_seed(0)
    likelihood = AdaptiveRobust()
    vae = VAE(*architectures.mlp((28, 28, 1), 8), likelihood=likelihood, seed=0)
    vae.compile(optimizer=keras_recon.optimizers.Adam(1e-3))
    vae.fit(x, epochs=args.epochs, batch_size=100, verbose=2)
    alpha = np.asarray(keras.ops.convert_to_numpy(likelihood.alpha()))[..., 0]
    scale = np.asarray(keras.ops.convert_to_numpy(likelihood.scale()))[..., 0]
    print(f"alpha: min {alpha.min():.3f}, median {np.median(alpha):.3f}, max {alpha.max():.3f}")
    print(f"scale: min {scale.min():.4f}, median {np.median(scale):.4f}, max {scale.max():.4f}")

    os.makedirs(args.out, exist_ok=True)
    grid = np.concatenate([np.linspace(0, 16, 800), [1e3]])
    values = np.asarray(keras.ops.convert_to_numpy(log_partition(grid.astype("float32"))))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(grid[:-1], values[:-1], label="log Z(alpha)")
    ax.axhline(0.70526025442, ls="--", c="gray", label="alpha -> inf: 0.70526")
    for a, name in ((0, "Cauchy"), (2, "Normal")):
        ax.plot([a], [values[np.argmin(abs(grid - a))]], "o", label=name)
    ax.set_xlabel("alpha")
    ax.set_ylabel("log Z")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "log_partition.png"), dpi=100)

    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
    axes[0].imshow(x.mean(0)[..., 0], cmap="gray")
    axes[0].set_title(f"mean of the {len(x):,} digits")
    im = axes[1].imshow(alpha, cmap="viridis", vmin=0, vmax=2)
    axes[1].set_title("learned alpha")
    fig.colorbar(im, ax=axes[1], fraction=0.046)
    im = axes[2].imshow(np.log10(scale), cmap="magma")
    axes[2].set_title("log10 learned scale")
    fig.colorbar(im, ax=axes[2], fraction=0.046)
    for a in axes:
        a.axis("off")
    fig.suptitle(f"per-pixel adaptive likelihood, MLP VAE, {args.epochs} epochs, {keras.backend.backend()}")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "alpha_map.png"), dpi=100)


if __name__ == "__main__":
    main()
