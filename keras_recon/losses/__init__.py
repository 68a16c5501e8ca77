"""Reconstruction losses: pure `keras.ops` functions and `Loss` classes.

Every function takes `y_true` and `y_pred` of one shape `(batch, ...)`
and returns one value per sample. Half-precision inputs are computed, and
the loss returned, in float32; float32 and float64 in their own dtype
(float64 on JAX needs `jax_enable_x64`). Each class takes its function's
hyperparameters and these arguments, the same for every loss
(`GaussianNLL` all but `sample_reduction`):

- `sample_reduction`: `"sum"` (the papers) or `"mean"` of the elementwise
  errors over each sample's non-batch axes. Defaults to `"sum"`.
- `reduction`: Keras's reduction over the batch. Defaults to
  `"sum_over_batch_size"`.
- `name`: Name of the loss instance. Defaults to the function's name.
- `dtype`: Dtype of the loss's computations. Defaults to `None`, which
  means `keras.backend.floatx()`.
"""

from keras_recon.losses.absolute_error import AbsoluteError
from keras_recon.losses.absolute_error import absolute_error
from keras_recon.losses.beta_divergence import BetaDivergence
from keras_recon.losses.beta_divergence import beta_divergence
from keras_recon.losses.gaussian_nll import GaussianNLL
from keras_recon.losses.gaussian_nll import gaussian_nll
from keras_recon.losses.general_robust import GeneralRobust
from keras_recon.losses.general_robust import general_robust
from keras_recon.losses.general_robust import robust_rho
from keras_recon.losses.i_divergence import IDivergence
from keras_recon.losses.i_divergence import i_divergence
from keras_recon.losses.log_cosh import LogCosh
from keras_recon.losses.log_cosh import log_cosh
from keras_recon.losses.squared_error import SquaredError
from keras_recon.losses.squared_error import squared_error

__all__ = [
    "AbsoluteError", "BetaDivergence", "GaussianNLL", "GeneralRobust", "IDivergence",
    "LogCosh", "SquaredError", "absolute_error", "beta_divergence", "gaussian_nll",
    "general_robust", "i_divergence", "log_cosh", "robust_rho", "squared_error",
]
