import keras
from keras import ops


def as_float_images(images, name="images"):
    """Returns a float tensor of rank 4 `(batch, h, w, c)`, or raises.

    Rank-3 `(batch, h, w)` input gets a channel axis. Integer images are
    refused: the metrics expect floats in [0, 1], and guessing whether a
    uint8 array means [0, 255] would silently change the numbers.
    """
    images = ops.convert_to_tensor(images)
    dtype = keras.backend.standardize_dtype(images.dtype)
    if not keras.backend.is_float_dtype(dtype):
        raise ValueError(
            f"`{name}` must be float images in [0, 1]; received dtype {dtype}. "
            "Convert uint8 images with `x.astype('float32') / 255`."
        )
    if len(images.shape) == 3:
        images = ops.expand_dims(images, -1)
    if len(images.shape) != 4:
        raise ValueError(
            f"`{name}` must be a batch of images with shape (batch, height, "
            f"width[, channels]); received shape {tuple(images.shape)}"
        )
    return images


def check_range(images, name, max_val=1.0):
    """Refuses eager images far beyond `[0, max_val]` (0-255 data passed as 0-1).

    Values up to `1.5 * max_val` in magnitude pass (reconstructions may
    overshoot a little, and `[-1, 1]` data is documented for sharpness);
    traced tensors cannot be inspected and pass unchecked.
    """
    from keras_recon.backend import is_traced

    if is_traced(images) or not ops.size(images):
        return images
    peak = float(ops.convert_to_numpy(ops.max(ops.abs(images))))
    if peak > 1.5 * max_val:
        raise ValueError(
            f"`{name}` reaches {peak:g}, far beyond the expected range [0, {max_val:g}]: "
            "0-255 data? Divide by 255 (or pass `max_val=255` where the metric takes it)."
        )
    return images
