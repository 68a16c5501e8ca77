"""Checks the loaders run on what they read: values finite and in range."""

import numpy as np


def check_images(source, x, low=0.0, high=1.0):
    """Raises `ValueError` naming `source` and the first bad image.

    Float data must be finite and inside `[low, high]` (the declared
    range); integer data only inside the range.
    """
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating):
        bad = ~np.isfinite(x)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{source}: image {where[0]} holds {x[where]} at position {where[1:]} "
                f"({int(bad.any(axis=tuple(range(1, x.ndim))).sum())} images with NaN or infinity)"
            )
    outside = (x < low) | (x > high)
    if outside.any():
        where = tuple(int(i) for i in np.argwhere(outside)[0])
        hint = " (0-255 data? divide by 255)" if high == 1.0 and float(x.max()) > 1.5 else ""
        raise ValueError(
            f"{source}: image {where[0]} holds {x[where]} at position {where[1:]}, outside the "
            f"declared range [{low:g}, {high:g}]{hint}"
        )
    return x


def check_labels(source, y, num_classes):
    y = np.asarray(y)
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        i = int(np.argwhere(bad)[0][0])
        raise ValueError(f"{source}: label {i} is {y[i]}, outside 0..{num_classes - 1}")
    return y
