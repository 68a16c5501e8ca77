import keras

from keras_recon.losses._common import ReconstructionLoss
from keras_recon.losses._common import check_positive
from keras_recon.losses._common import check_sample_reduction
from keras_recon.losses._common import prepare
from keras_recon.losses._common import reduce_per_sample
from keras_recon.losses.beta_divergence import elementwise_beta_divergence

# "forward" is D(y_true || y_pred) and "reverse" D(y_pred || y_true), as
# forward and reverse KL; the thesis numbers them 2 (E_I2) and 1 (E_I1).
DIRECTIONS = {"forward": "forward", "reverse": "reverse", 2: "forward", 1: "reverse"}


def check_direction(direction):
    """The direction's name, from a name or the thesis's number."""
    if isinstance(direction, bool) or not isinstance(direction, (int, str)) or direction not in DIRECTIONS:
        raise ValueError(
            "Argument `direction` must be 'forward' (or 2), or 'reverse' (or 1). "
            f"Received: direction={direction!r}"
        )
    return DIRECTIONS[direction]


def i_divergence(
    y_true, y_pred, *, direction="forward", epsilon=1e-7, sample_reduction="sum"
):
    """I-divergence (generalised Kullback-Leibler divergence) per sample.

    Formula, with `x = y_true` and `x_hat = y_pred`:

    ```python
    "forward" (2):  sum(x * log(x / x_hat) - x + x_hat)       # E_I2
    "reverse" (1):  sum(x_hat * log(x_hat / x) - x_hat + x)   # E_I1
    ```

    The beta-divergence at `beta = 1` (`"forward"` is
    `beta_divergence(y_true, y_pred, beta=1)`, `"reverse"` the same with
    the arguments swapped), computed by the same function. Inputs must be
    non-negative. Below `epsilon` each logarithm is continued by its
    tangent (see `elementwise_beta_divergence`): the value is exact where
    both inputs are at least `epsilon`, zero where `y_true == y_pred`
    (zeros included), and within `epsilon / 2` of the exact limits at zeros
    (`0 log 0 = 0`); the gradient is finite everywhere, continuous, and
    where `y_pred` is below the floor it pushes `y_pred` toward `y_true`
    (forward, it is `1 - y_true / epsilon + y_pred / epsilon`, not the
    exact `1 - y_true / y_pred`, which is infinite at 0). The continuation
    is defined for negative inputs too, where it is a convex quadratic.

    Example:

    >>> y_true = [[0.2, 0.5, 1.0]]
    >>> y_pred = [[0.1, 0.5, 0.8]]
    >>> keras_recon.losses.i_divergence(y_true, y_pred, direction="forward")
    array([0.06177296], dtype=float32)

    Args:
        y_true: Non-negative targets, shape `(batch, d0, ..., dN)`.
        y_pred: Non-negative predictions, the same shape as `y_true`.
        direction: `"forward"` for `D(y_true || y_pred)` (the thesis's
            `E_I2`, alias `2`) or `"reverse"` for `D(y_pred || y_true)`
            (`E_I1`, alias `1`). Defaults to `"forward"`.
        epsilon: Positive floor below which the logarithms are continued.
            Defaults to `1e-7`.
        sample_reduction: `"sum"` or `"mean"` over each sample's non-batch
            axes. Defaults to `"sum"`.

    Returns:
        One loss value per sample, shape `(batch,)`.

    Reference:
        - Takuma Haruguchi, "Autoencoder with New Loss Functions", thesis
          supervised by Shuxue Ding, 2019, eq. 33-34.
    """
    direction = check_direction(direction)
    epsilon = check_positive("epsilon", epsilon)
    check_sample_reduction(sample_reduction)
    y_true, y_pred, out_dtype = prepare(y_true, y_pred)
    if direction == "reverse":
        values = elementwise_beta_divergence(y_pred, y_true, 1.0, epsilon)
    else:
        values = elementwise_beta_divergence(y_true, y_pred, 1.0, epsilon)
    return reduce_per_sample(values, sample_reduction, out_dtype)


@keras.saving.register_keras_serializable(package="keras_recon")
class IDivergence(ReconstructionLoss):
    """I-divergence reconstruction loss, in either direction.

    The beta-divergence at `beta = 1`, asymmetric where the squared error
    is symmetric; see `i_divergence` for the formula and for how the
    logarithms are continued below `epsilon` (images with exact zeros).

    Example:

    >>> loss = keras_recon.losses.IDivergence(direction="reverse")
    >>> loss([[0.2, 0.5, 1.0]], [[0.1, 0.5, 0.8]])
    0.05217044

    Args:
        direction: `"forward"` (alias `2`) for `D(y_true || y_pred)` or
            `"reverse"` (alias `1`) for `D(y_pred || y_true)`. Defaults to
            `"forward"`.
        epsilon: Positive floor below which the logarithms are continued.
            Defaults to `1e-7`.
        sample_reduction: `"sum"` (the papers) or `"mean"` of the errors
            over each sample's non-batch axes. Defaults to `"sum"`.
        reduction: Keras reduction over the batch. Defaults to
            `"sum_over_batch_size"`.
        name: Name of the loss instance. Defaults to `"i_divergence"`.
        dtype: Dtype of the loss's computations. Defaults to `None`, which
            means `keras.backend.floatx()`.
    """

    fn = staticmethod(i_divergence)
    _hyperparameters = ("direction", "epsilon")

    def __init__(
        self,
        direction="forward",
        epsilon=1e-7,
        sample_reduction="sum",
        reduction="sum_over_batch_size",
        name="i_divergence",
        dtype=None,
    ):
        super().__init__(sample_reduction, reduction, name, dtype)
        self.direction = check_direction(direction)
        self.epsilon = check_positive("epsilon", epsilon)
