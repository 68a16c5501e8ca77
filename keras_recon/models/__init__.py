"""Autoencoders that train the same on TensorFlow, JAX and PyTorch."""

from keras_recon.models import architectures
from keras_recon.models.ae import AE
from keras_recon.models.two_stage_vae import TwoStageVAE
from keras_recon.models.vae import VAE
from keras_recon.models.wae import WAE
from keras_recon.models.wae import mmd_imq

__all__ = ["AE", "VAE", "WAE", "TwoStageVAE", "architectures", "mmd_imq"]
