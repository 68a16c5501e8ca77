"""Datasets as float32 arrays in [0, 1], ready for `fit` on every backend.

Loaders read the official files from a folder given by `path=` or by the
`KERAS_RECON_DATA` environment variable (`$KERAS_RECON_DATA/mnist`, ...);
`load_embedded_mnist` needs neither; `load_tfds` downloads through
TensorFlow Datasets where the machine has internet.
"""

from keras_recon.data.batches import ImageBatches
from keras_recon.data.celeba import load_celeba
from keras_recon.data.cifar10 import load_cifar10
from keras_recon.data.embedded import load_embedded_mnist
from keras_recon.data.mnist import load_fashion_mnist
from keras_recon.data.mnist import load_mnist
from keras_recon.data.mnist import read_idx
from keras_recon.data.tfds import load_tfds

__all__ = [
    "ImageBatches",
    "load_celeba",
    "load_cifar10",
    "load_embedded_mnist",
    "load_fashion_mnist",
    "load_mnist",
    "load_tfds",
    "read_idx",
]
