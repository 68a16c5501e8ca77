"""Optimizers: Keras's own updates, run faster where a backend allows."""

from keras_recon.optimizers.adam import Adam

__all__ = ["Adam"]
