import keras
from keras import ops

from keras_recon.losses._common import ReconstructionLoss
from keras_recon.losses._common import prepare
from keras_recon.losses._common import reduce_per_sample


def absolute_error(y_true, y_pred, *, sample_reduction="sum"):
    """L1 reconstruction error per sample.

    Formula:

    ```python
    loss = sum(abs(y_pred - y_true))   # over all non-batch axes
    ```

    The gradient at an exact zero residual is taken as 0.

    Example:

    >>> keras_recon.losses.absolute_error([[0.0, 1.0]], [[0.5, 0.0]])
    array([1.5], dtype=float32)

    Args:
        y_true, y_pred: Targets and predictions, of one shape `(batch, ...)`.
        sample_reduction: `"sum"` or `"mean"` over non-batch axes. Defaults to `"sum"`.

    Returns:
        One loss value per sample, shape `(batch,)`.
    """
    y_true, y_pred, out_dtype = prepare(y_true, y_pred)
    return reduce_per_sample(ops.abs(y_pred - y_true), sample_reduction, out_dtype)


@keras.saving.register_keras_serializable(package="keras_recon")
class AbsoluteError(ReconstructionLoss):
    """L1 reconstruction loss, summed over each sample's pixels.

    The log-cosh paper's other baseline (its eq. 4); see `absolute_error`.

    Example:

    >>> keras_recon.losses.AbsoluteError()([[0.0, 1.0]], [[0.5, 0.0]])
    1.5

    Args:
        sample_reduction: `"sum"` or `"mean"` over non-batch axes. Defaults to `"sum"`.
    """

    def __init__(self, sample_reduction="sum", reduction="sum_over_batch_size",
                 name="absolute_error", dtype=None):
        super().__init__(absolute_error, sample_reduction, reduction, name, dtype)
