import os

import numpy as np

from keras_recon.data.paths import resolve_dir


def load_celeba(path=None, *, limit=None, size=64, crop=148):
    """Aligned CelebA faces, centre-cropped and resized, float32 in [0, 1].

    Each 178x218 image of `img_align_celeba/` is centre-cropped to
    `crop x crop` and resized to `size x size` with bicubic interpolation
    (never nearest-neighbour, whose jaggies ruin FID; see Asperti and Trentin's
    appendix), the usual preprocessing of the 64x64 VAE papers.

    Args:
        path: Folder holding `img_align_celeba/` (or the JPEGs themselves).
            Defaults to `None`, which reads `$KERAS_RECON_DATA/celeba`.
        limit: Read only the first `limit` files in name order. Defaults to
            `None` (all).
        size: Output side length. Defaults to `64`.
        crop: Side of the centre crop. Defaults to `148`.

    Returns:
        Images `(n, size, size, 3)` float32 in [0, 1].
    """
    from PIL import Image

    folder = resolve_dir(path, "celeba")
    inner = os.path.join(folder, "img_align_celeba")
    if os.path.isdir(inner):
        folder = inner
    files = sorted(f for f in os.listdir(folder) if f.lower().endswith((".jpg", ".png")))
    if not files:
        raise FileNotFoundError(f"{folder}: no .jpg images (expected img_align_celeba/)")
    files = files[:limit] if limit else files
    out = np.empty((len(files), size, size, 3), np.float32)
    for i, name in enumerate(files):
        file = os.path.join(folder, name)
        try:
            with Image.open(file) as image:
                image = image.convert("RGB")
                w, h = image.size
                if w < crop or h < crop:
                    raise ValueError(f"{w}x{h} is smaller than the {crop}x{crop} crop")
                left, top = (w - crop) // 2, (h - crop) // 2
                image = image.crop((left, top, left + crop, top + crop))
                image = image.resize((size, size), Image.Resampling.BICUBIC)
                out[i] = np.asarray(image, np.float32) / 255.0
        except Exception as e:
            raise ValueError(f"{file}: cannot be read as an image ({e})") from e
    # Bicubic can overshoot slightly; keep the declared [0, 1] range.
    return np.clip(out, 0.0, 1.0)
