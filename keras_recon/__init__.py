"""keras_recon: sharper autoencoders through better reconstruction losses."""

from keras_recon import callbacks
from keras_recon import data
from keras_recon import losses
from keras_recon import metrics
from keras_recon import models
from keras_recon import optimizers
from keras_recon import saving

__version__ = "0.1.0"

__all__ = ["callbacks", "data", "losses", "metrics", "models", "optimizers", "saving", "__version__"]
