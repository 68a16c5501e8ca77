import keras
from keras import ops

from keras_recon.losses._common import ReconstructionLoss
from keras_recon.losses._common import prepare
from keras_recon.losses._common import reduce_per_sample


def squared_error(y_true, y_pred, *, sample_reduction="sum"):
    """Squared L2 reconstruction error per sample.

    Formula:

    ```python
    loss = sum((y_pred - y_true) ** 2)   # over all non-batch axes
    ```

    This is the papers' squared L2 (Chen et al. 2019, eq. 3), summed over pixels, not
    Keras's `mean_squared_error`, which averages over the last axis only.
    With `sample_reduction="mean"` it is the MSE over all non-batch axes.

    Example:

    >>> keras_recon.losses.squared_error([[0.0, 1.0]], [[0.5, 0.0]])
    array([1.25], dtype=float32)

    Args:
        y_true, y_pred: Targets and predictions, of one shape `(batch, ...)`.
        sample_reduction: `"sum"` or `"mean"` over non-batch axes. Defaults to `"sum"`.

    Returns:
        One loss value per sample, shape `(batch,)`.
    """
    y_true, y_pred, out_dtype = prepare(y_true, y_pred)
    return reduce_per_sample(ops.square(y_pred - y_true), sample_reduction, out_dtype)


@keras.saving.register_keras_serializable(package="keras_recon")
class SquaredError(ReconstructionLoss):
    """Squared L2 reconstruction loss, summed over each sample's pixels.

    The baseline of the log-cosh paper (its eq. 3); see `squared_error`.

    Example:

    >>> keras_recon.losses.SquaredError()([[0.0, 1.0]], [[0.5, 0.0]])
    1.25

    Args:
        sample_reduction: `"sum"` or `"mean"` over non-batch axes. Defaults to `"sum"`.
    """

    def __init__(self, sample_reduction="sum", reduction="sum_over_batch_size",
                 name="squared_error", dtype=None):
        super().__init__(squared_error, sample_reduction, reduction, name, dtype)
