"""The data's own log-likelihood under one Normal per coefficient, at 32x32 and 64x64.

No network: each coefficient of each representation (pixels + RGB, DCT + YUV,
wavelet + YUV) gets the mean and standard deviation of the 5,000 training
faces, and the 1,000 validation faces are scored. This separates what the
representation and the resolution give from what the VAE adds, and sets the
study's 32x32 numbers beside the paper's 64x64 ones per dimension.

    KERAS_RECON_DATA=/work/shared/datasets KERAS_BACKEND=jax \
        python experiments/results/robust_vae_celeba32/factorised_normal.py
"""

import math
import os

import numpy as np

from keras_recon.studies import _common
from keras_recon.studies import robust


def log_likelihoods(x, held_out, representation, color):
    from keras import ops

    from keras_recon.likelihoods.representations import represent

    def coefficients(images):
        return np.concatenate([
            _common.to_numpy(represent(ops.convert_to_tensor(images[i : i + 500]), representation, color))
            for i in range(0, len(images), 500)
        ]).astype("float64")

    train, test = coefficients(x), coefficients(held_out)
    mean, sd = train.mean(0), train.std(0)
    per_image = np.sum(-0.5 * math.log(2 * math.pi) - np.log(sd) - 0.5 * ((test - mean) / sd) ** 2,
                       axis=tuple(range(1, test.ndim)))
    return per_image


def main():
    rows = []
    for size in (32, 64):
        x, _, held_out, _ = _common.load_dataset("celeba", None, seed=0, size=size)
        dims = int(np.prod(x.shape[1:]))
        for representation in robust.REPRESENTATIONS:
            color = robust.PAPER_COLOR[representation]
            ll = log_likelihoods(x, held_out, representation, color)
            rows.append({"size": size, "representation": representation, "color": color, "dims": dims,
                         "nats_per_image": float(ll.mean()), "sem": float(ll.std() / math.sqrt(len(ll))),
                         "nats_per_dim": float(ll.mean() / dims)})
            print(rows[-1], flush=True)
    here = os.path.dirname(os.path.abspath(__file__))
    note = _common.machine_note(
        "KERAS_RECON_DATA=/work/shared/datasets KERAS_BACKEND=jax "
        "python experiments/results/robust_vae_celeba32/factorised_normal.py")
    _common.write_json(os.path.join(here, "factorised_normal.json"), {"rows": rows, "machine": note})
    lines = [
        "# The data under one Normal per coefficient (no network)",
        "",
        "Mean and standard deviation of each coefficient from the 5,000 training faces; log-likelihood of "
        "the 1,000 validation faces (higher is better), nats per image and per dimension; pixels in [0, 1].",
        "",
        _common.machine_line(note),
        "",
        "| size | representation | nats/image | nats/dimension |",
        "| --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(f"| {r['size']}x{r['size']} | {r['representation']} + {r['color'].upper()} | "
                     f"{r['nats_per_image']:.1f} ± {r['sem']:.1f} | {r['nats_per_dim']:.3f} |")
    _common.write_text(os.path.join(here, "factorised_normal.md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
