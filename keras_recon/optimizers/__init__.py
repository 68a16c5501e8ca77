"""Optimizers: Keras's Adam, run faster where a backend allows; Adam with
per-variable learning-rate multipliers; and the two Keras 2.2 updates that
Keras 3's arguments cannot reproduce."""

from keras_recon.optimizers.adam import Adam
from keras_recon.optimizers.adam_with_multipliers import AdamWithMultipliers
from keras_recon.optimizers.keras22_adagrad import Keras22Adagrad
from keras_recon.optimizers.keras22_nadam import Keras22Nadam

__all__ = ["Adam", "AdamWithMultipliers", "Keras22Adagrad", "Keras22Nadam"]
