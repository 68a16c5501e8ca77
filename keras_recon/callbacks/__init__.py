"""Callbacks that log image quality and latent health during `fit`."""

from keras_recon.callbacks.gamma_balancer import GammaBalancer
from keras_recon.callbacks.image_quality import ImageQuality
from keras_recon.callbacks.latent_stats import LatentStats
from keras_recon.callbacks.sample_grid import SampleGrid

__all__ = ["GammaBalancer", "ImageQuality", "LatentStats", "SampleGrid"]
