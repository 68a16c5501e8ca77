"""How the logging callbacks reach a model's reconstructions and samples.

A `keras_recon` model has `reconstruct(x)`, `sample(n, seed=...)` and
`encode(x) -> (z_mean, z_log_var)`. Any other Keras model works too: its
call is taken as the reconstruction, and sampling or encoding functions can
be passed to the callbacks explicitly.
"""

import numpy as np
from keras import ops


def reconstruct(model, x, fn=None):
    if fn is not None:
        out = fn(x)
    elif hasattr(model, "reconstruct"):
        out = model.reconstruct(x)
    else:
        out = model(x, training=False)
    return np.asarray(ops.convert_to_numpy(out))


def sample(model, n, seed, fn=None):
    if fn is not None:
        out = fn(n, seed)
    elif hasattr(model, "sample"):
        out = model.sample(n, seed=seed)
    else:
        return None
    return np.asarray(ops.convert_to_numpy(out))


def encode(model, x, fn=None):
    if fn is not None:
        out = fn(x)
    elif hasattr(model, "encode"):
        out = model.encode(x)
    else:
        raise ValueError(
            "LatentStats needs the posterior: the model has no `encode` "
            "method, so pass `encode_fn=lambda x: (z_mean, z_log_var)`."
        )
    z_mean, z_log_var = out[0], out[1]
    return np.asarray(ops.convert_to_numpy(z_mean)), np.asarray(ops.convert_to_numpy(z_log_var))


def as_images(x, image_shape):
    """Reshapes flat vectors (MLP models) to images for the image metrics."""
    x = np.asarray(x, np.float32)
    if image_shape is not None:
        return x.reshape((len(x),) + tuple(image_shape))
    if x.ndim == 2:
        side = int(round(np.sqrt(x.shape[1])))
        if side * side == x.shape[1]:
            return x.reshape(len(x), side, side, 1)
        raise ValueError(
            f"Cannot tell the image shape of vectors of size {x.shape[1]}; "
            "pass `image_shape=(h, w, c)`."
        )
    return x
