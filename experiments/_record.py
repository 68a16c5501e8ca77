"""Results files of the experiment and benchmark scripts (`python -m ...`):
the same machine note and atomic JSON writer as the command line's."""

import sys

import keras

from keras_recon.studies._common import machine_note as _machine_note
from keras_recon.studies._common import write_json  # noqa: F401  (re-exported)


def machine_note():
    backend = keras.backend.backend()
    module = sys.modules["__main__"].__spec__.name
    return _machine_note(" ".join([f"KERAS_BACKEND={backend} python -m", module] + sys.argv[1:]))
