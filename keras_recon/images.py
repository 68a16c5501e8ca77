"""Pictures of image batches: a tiled grid and its PNG file.

Used by the `SampleGrid` callback and by the studies' reports.
"""

import os

import numpy as np


def image_grid(rows):
    """Tiles a list of equal-length image batches into one uint8 picture.

    Each entry of `rows` is a batch `(n, h, w, c)` in `[0, 1]` and becomes one
    row of the grid, with a one-pixel white border between tiles.
    """
    rows = [np.clip(np.asarray(r, np.float32), 0, 1) for r in rows]
    n, h, w, c = rows[0].shape
    grid = np.ones((len(rows) * (h + 1) + 1, n * (w + 1) + 1, c), np.float32)
    for i, batch in enumerate(rows):
        for j, image in enumerate(batch):
            top, left = 1 + i * (h + 1), 1 + j * (w + 1)
            grid[top : top + h, left : left + w] = image
    grid = (grid * 255).round().astype(np.uint8)
    return grid[..., 0] if c == 1 else grid


def save_png(path, picture):
    """Writes a uint8 picture to `path` with Pillow, through a temporary
    file, so that a reader never sees half a PNG."""
    from PIL import Image

    tmp = path + ".tmp.png"
    Image.fromarray(picture).save(tmp)
    os.replace(tmp, path)
