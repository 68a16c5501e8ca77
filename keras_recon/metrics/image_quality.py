import math

from keras import ops

from keras_recon.metrics._checks import as_float_images
from keras_recon.metrics._checks import check_range


def psnr(y_true, y_pred, *, max_val=1.0):
    """Peak signal-to-noise ratio per image, in decibels.

    Formula:

    ```python
    psnr = 10 * log10(max_val**2 / mean((y_true - y_pred) ** 2))
    ```

    Identical images give `inf`.

    Example:

    >>> keras_recon.metrics.psnr(np.zeros((1, 2, 2)), np.full((1, 2, 2), 0.1))
    array([20.], dtype=float32)

    Args:
        y_true: Float images in `[0, max_val]`.
        y_pred: Images of the same shape.
        max_val: The dynamic range. Defaults to `1.0`.

    Returns:
        One PSNR per image, shape `(batch,)`.
    """
    y_true = check_range(as_float_images(y_true, "y_true"), "y_true", max_val)
    y_pred = ops.cast(as_float_images(y_pred, "y_pred"), y_true.dtype)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(
            "`y_true` and `y_pred` must have the same shape. Received: "
            f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}"
        )
    mse = ops.mean(ops.square(y_true - y_pred), axis=(1, 2, 3))
    return 10.0 * ops.log(max_val**2 / mse) / math.log(10.0)


def bits_per_dim(nll_nats, num_dims):
    """Converts a per-image negative log-likelihood in nats to bits per dim.

    Formula:

    ```python
    bpd = nll_nats / (num_dims * log(2))
    ```

    Use it with the negative ELBO to report the usual upper bound in bits
    per dimension. For data in [0, 1] modelled by a continuous density,
    add `log2(256)` = 8 to compare with bits per dim of 8-bit pixels.

    Example:

    >>> float(keras_recon.metrics.bits_per_dim(np.array([543.43]), 784)[0])
    0.99999...

    Args:
        nll_nats: Negative log-likelihood (or negative ELBO) per image.
        num_dims: Number of dimensions of one image (`h * w * c`).

    Returns:
        Bits per dimension, the shape of `nll_nats`.
    """
    if not isinstance(num_dims, int) or num_dims <= 0:
        raise ValueError(
            f"Argument `num_dims` must be a positive integer. Received: num_dims={num_dims!r}"
        )
    return ops.convert_to_tensor(nll_nats) / (num_dims * math.log(2.0))
