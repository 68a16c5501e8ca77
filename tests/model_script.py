"""Saves or loads a small VAE and prints its reconstructions, for the
cross-backend save/load test (each run is its own process and backend)."""

import json
import sys

import keras
import numpy as np

import keras_recon
from keras_recon.losses import LogCosh
from keras_recon.models import VAE
from keras_recon.models import architectures


def probe():
    x, _ = keras_recon.data.load_embedded_mnist()
    return x[::500]  # 10 digits


def save(path):
    keras.utils.set_random_seed(0)
    encoder, decoder = architectures.mlp((28, 28, 1), 4, hidden=(32,))
    vae = VAE(encoder, decoder, beta=0.5, seed=3)
    vae.compile(optimizer="adam", loss=LogCosh(a=100))
    vae.fit(probe(), epochs=1, batch_size=5, verbose=0)
    vae.save(path)
    return vae


def reconstructions(vae):
    return np.asarray(keras.ops.convert_to_numpy(vae.reconstruct(probe()))).tolist()


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    vae = save(path) if mode == "save" else keras.models.load_model(path)
    print("RESULT " + json.dumps({"backend": keras.backend.backend(), "recon": reconstructions(vae)}))
