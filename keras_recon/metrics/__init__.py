"""Image-quality and latent-health measures: sharpness, SSIM, FID, PSNR."""

from keras_recon.metrics.classifier import build_classifier
from keras_recon.metrics.classifier import feature_extractor
from keras_recon.metrics.classifier import load_or_train_classifier
from keras_recon.metrics.classifier import train_classifier
from keras_recon.metrics.fid import FID
from keras_recon.metrics.frechet import FeatureStatistics
from keras_recon.metrics.frechet import frechet_distance
from keras_recon.metrics.image_quality import bits_per_dim
from keras_recon.metrics.image_quality import psnr
from keras_recon.metrics.latent import inactive_latents
from keras_recon.metrics.latent import variance_law
from keras_recon.metrics.sharpness import sharpness
from keras_recon.metrics.ssim import SSIM
from keras_recon.metrics.ssim import ssim

__all__ = [
    "FID",
    "SSIM",
    "FeatureStatistics",
    "bits_per_dim",
    "build_classifier",
    "feature_extractor",
    "frechet_distance",
    "inactive_latents",
    "load_or_train_classifier",
    "psnr",
    "sharpness",
    "ssim",
    "train_classifier",
    "variance_law",
]
