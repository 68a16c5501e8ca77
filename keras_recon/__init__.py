"""keras_recon: sharper autoencoders through better reconstruction losses."""

from keras_recon import data
from keras_recon import losses
from keras_recon import metrics

__version__ = "0.1.0"

__all__ = ["data", "losses", "metrics", "__version__"]
