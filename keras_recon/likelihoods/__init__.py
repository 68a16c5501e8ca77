"""Likelihood layers: decoder NLLs with learned or computed scales.

A Keras `Loss` holds no trainable state, so everything that learns or tracks
a scale is a layer that a model owns (`VAE(..., likelihood=Gaussian(...))`)
and calls from `compute_loss` as `likelihood(y_true, y_pred)`, returning one
negative log-likelihood per sample.
"""

from keras_recon.likelihoods.adaptive_robust import AdaptiveRobust
from keras_recon.likelihoods.adaptive_robust import sample_general
from keras_recon.likelihoods.gaussian import Gaussian
from keras_recon.likelihoods.heavy_tailed import Cauchy
from keras_recon.likelihoods.heavy_tailed import StudentT
from keras_recon.likelihoods.heavy_tailed import lgamma
from keras_recon.likelihoods.laplace import Laplace
from keras_recon.likelihoods.log_partition import log_partition
from keras_recon.losses.gaussian_nll import GaussianNLL

__all__ = [
    "AdaptiveRobust",
    "Cauchy",
    "Gaussian",
    "GaussianNLL",
    "Laplace",
    "StudentT",
    "lgamma",
    "log_partition",
    "sample_general",
]
