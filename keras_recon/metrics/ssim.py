import keras
from keras import ops

from keras_recon.metrics._checks import as_float_images
from keras_recon.metrics._checks import check_range


def ssim(y_true, y_pred, *, max_val=1.0, filter_size=11, filter_sigma=1.5):
    """Structural similarity per image pair, via `keras.ops.image.ssim`.

    The Gaussian-window SSIM of Wang et al. (2004), with constants
    `k1 = 0.01`, `k2 = 0.03` and an 11x11 window of sigma 1.5; this is what
    `skimage.metrics.structural_similarity(..., gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=1)` computes.

    Example:

    >>> x = np.random.default_rng(0).uniform(size=(2, 16, 16, 1))
    >>> keras_recon.metrics.ssim(x, x)
    array([1., 1.], dtype=float32)

    Args:
        y_true: Float images in `[0, max_val]`, `(batch, h, w, c)`.
        y_pred: Images of the same shape.
        max_val: The dynamic range of the images. Defaults to `1.0`.
        filter_size: Odd size of the Gaussian window. Defaults to `11`.
        filter_sigma: Width of the Gaussian window. Defaults to `1.5`.

    Returns:
        One SSIM value per image pair, shape `(batch,)`.
    """
    y_true = check_range(as_float_images(y_true, "y_true"), "y_true", max_val)
    y_pred = check_range(as_float_images(y_pred, "y_pred"), "y_pred", max_val)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(
            "`y_true` and `y_pred` must have the same shape. Received: "
            f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}"
        )
    y_pred = ops.cast(y_pred, y_true.dtype)
    return ops.image.ssim(
        y_true, y_pred, max_val=max_val, filter_size=filter_size,
        filter_sigma=filter_sigma, data_format="channels_last",
    )


@keras.saving.register_keras_serializable(package="keras_recon")
class SSIM(keras.metrics.Mean):
    """Mean SSIM over every image pair seen, as a Keras metric.

    Example:

    >>> m = keras_recon.metrics.SSIM()
    >>> m.update_state(x, x)
    >>> float(m.result())
    1.0

    Args:
        max_val: The dynamic range of the images. Defaults to `1.0`.
        name: Name of the metric. Defaults to `"ssim"`.
        dtype: Dtype of the result. Defaults to `None`.
    """

    def __init__(self, max_val=1.0, name="ssim", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.max_val = max_val

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = ssim(y_true, y_pred, max_val=self.max_val)
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        return {"max_val": self.max_val, "name": self.name, "dtype": self.dtype}
