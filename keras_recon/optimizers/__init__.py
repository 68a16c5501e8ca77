"""Optimizers: Keras's own updates, run faster where a backend allows, and
the two Keras 2.2 updates that Keras 3's arguments cannot reproduce."""

from keras_recon.optimizers.adam import Adam
from keras_recon.optimizers.keras22_adagrad import Keras22Adagrad
from keras_recon.optimizers.keras22_nadam import Keras22Nadam

__all__ = ["Adam", "Keras22Adagrad", "Keras22Nadam"]
