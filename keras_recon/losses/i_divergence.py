import keras

from keras_recon.losses._common import ReconstructionLoss
from keras_recon.losses._common import check_number
from keras_recon.losses._common import prepare
from keras_recon.losses._common import reduce_per_sample
from keras_recon.losses.beta_divergence import elementwise_beta_divergence


def check_direction(direction):
    """`"forward"`, `D(y_true || y_pred)`, or `"reverse"`, `D(y_pred || y_true)`
    (as forward and reverse KL), from the name or the thesis's number."""
    names = {"forward": "forward", "reverse": "reverse", 2: "forward", 1: "reverse"}
    if isinstance(direction, bool) or not isinstance(direction, (int, str)) or direction not in names:
        raise ValueError(
            "Argument `direction` must be 'forward' (or 2), or 'reverse' (or 1). "
            f"Received: direction={direction!r}"
        )
    return names[direction]


def i_divergence(y_true, y_pred, *, direction="forward", epsilon=1e-7, sample_reduction="sum"):
    """I-divergence (generalised Kullback-Leibler divergence) per sample.

    Formula, with `x = y_true` and `x_hat = y_pred`:

    ```python
    "forward" (2):  sum(x * log(x / x_hat) - x + x_hat)       # E_I2
    "reverse" (1):  sum(x_hat * log(x_hat / x) - x_hat + x)   # E_I1
    ```

    The beta-divergence at `beta = 1`, computed by the same function
    (`"reverse"` with the arguments swapped). Below `epsilon` each logarithm
    is continued by its tangent: the value is exact where both inputs are
    at least `epsilon`, zero where `y_true == y_pred` (zeros included) and
    within `epsilon / 2` of `0 log 0 = 0`; the gradient is finite
    everywhere and pushes `y_pred` toward `y_true` below the floor (the
    guide "Numerics of the losses" has the derivation).

    Example:

    >>> y_true = [[0.2, 0.5, 1.0]]
    >>> y_pred = [[0.1, 0.5, 0.8]]
    >>> keras_recon.losses.i_divergence(y_true, y_pred, direction="forward")
    array([0.06177296], dtype=float32)

    Args:
        y_true, y_pred: Non-negative targets and predictions, of one shape
            `(batch, ...)`.
        direction: `"forward"` for `D(y_true || y_pred)` (the thesis's
            `E_I2`, alias `2`) or `"reverse"` for `D(y_pred || y_true)`
            (`E_I1`, alias `1`). Defaults to `"forward"`.
        epsilon: Positive floor below which the logarithms are continued.
            Defaults to `1e-7`.
        sample_reduction: `"sum"` or `"mean"` over non-batch axes. Defaults to `"sum"`.

    Returns:
        One loss value per sample, shape `(batch,)`.

    Reference:
        - Takuma Haruguchi, "Autoencoder with New Loss Functions", thesis
          supervised by Shuxue Ding, 2019, eq. 33-34.
    """
    direction = check_direction(direction)
    epsilon = check_number("epsilon", epsilon, positive=True)
    y_true, y_pred, out_dtype = prepare(y_true, y_pred)
    if direction == "reverse":
        y_true, y_pred = y_pred, y_true
    values = elementwise_beta_divergence(y_true, y_pred, 1.0, epsilon)
    return reduce_per_sample(values, sample_reduction, out_dtype)


@keras.saving.register_keras_serializable(package="keras_recon")
class IDivergence(ReconstructionLoss):
    """I-divergence reconstruction loss, in either direction.

    Asymmetric where the squared error is symmetric; see `i_divergence`.

    Example:

    >>> loss = keras_recon.losses.IDivergence(direction="reverse")
    >>> loss([[0.2, 0.5, 1.0]], [[0.1, 0.5, 0.8]])
    0.05217044

    Args:
        direction: `"forward"` (or `2`) or `"reverse"` (or `1`). Defaults to `"forward"`.
        epsilon: Positive floor of the logarithms. Defaults to `1e-7`.
        sample_reduction: `"sum"` or `"mean"` over non-batch axes. Defaults to `"sum"`.
    """

    def __init__(self, direction="forward", epsilon=1e-7, sample_reduction="sum",
                 reduction="sum_over_batch_size", name="i_divergence", dtype=None):
        super().__init__(i_divergence, sample_reduction, reduction, name, dtype,
                         direction=check_direction(direction),
                         epsilon=check_number("epsilon", epsilon, positive=True))
