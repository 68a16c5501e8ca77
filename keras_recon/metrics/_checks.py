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
