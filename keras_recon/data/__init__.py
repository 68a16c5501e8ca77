"""Datasets as float32 arrays in [0, 1], ready for `fit` on every backend."""

from keras_recon.data.embedded import load_embedded_mnist

__all__ = ["load_embedded_mnist"]
