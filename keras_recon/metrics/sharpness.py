from keras import ops

from keras_recon.metrics._checks import as_float_images
from keras_recon.metrics._checks import check_range

# ITU-R 601 luma weights, as tf.image.rgb_to_grayscale uses in the WAE code.
_LUMA = (0.2989, 0.587, 0.114)
_LAPLACIAN = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))


def sharpness(images):
    """Blurriness measure of the WAE code and of Chen et al. (2019): Laplacian variance.

    Formula:

    ```python
    grey = rgb_to_grayscale(image)             # 1 or 3 channels
    response = conv2d(grey, [[0, 1, 0],
                             [1, -4, 1],
                             [0, 1, 0]], padding="valid")
    sharpness = variance(response)            # one value per image
    ```

    Larger is sharper. Chen et al. report the mean over images. The value
    depends on the input range: images are expected in `[0, 1]`; the same
    images in `[-1, 1]` score four times higher (the response doubles).

    Example:

    >>> x = np.zeros((1, 5, 5, 1), "float32"); x[0, 2, 2, 0] = 1.0
    >>> keras_recon.metrics.sharpness(x)
    array([2.2222223], dtype=float32)

    Args:
        images: Float images in `[0, 1]`, shape `(batch, h, w, c)` with 1 or
            3 channels, or `(batch, h, w)`. Integer images, other ranks and
            (eager) values beyond 1.5 in magnitude, such as 0-255 data, are
            a `ValueError`.

    Returns:
        One sharpness value per image, shape `(batch,)`.

    Reference:
        - [Chen et al., "Log Hyperbolic Cosine Loss Improves Variational
          Auto-Encoder", 2019](https://openreview.net/forum?id=rkglvsC9Ym),
          section 4; Tolstikhin et al., "Wasserstein Auto-Encoders", 2018.
    """
    images = check_range(as_float_images(images), "images")
    channels = images.shape[-1]
    if channels == 3:
        weights = ops.convert_to_tensor(_LUMA, dtype=images.dtype)
        images = ops.sum(images * weights, axis=-1, keepdims=True)
    elif channels != 1:
        raise ValueError(
            f"`images` must have 1 or 3 channels; received {channels}"
        )
    kernel = ops.reshape(ops.convert_to_tensor(_LAPLACIAN, images.dtype), (3, 3, 1, 1))
    response = ops.conv(images, kernel, padding="valid", data_format="channels_last")
    return ops.var(ops.reshape(response, (ops.shape(response)[0], -1)), axis=1)
