"""fit_resumable's progress bar counts the run's epochs, across a resume."""

import re

import keras
import numpy as np

from keras_recon import training
from keras_recon.models import VAE
from keras_recon.models import architectures


def _vae():
    keras.utils.set_random_seed(0)
    model = VAE(*architectures.mlp((28, 28, 1), latent_dim=2))
    model.compile(optimizer="adam", loss="mse")
    return model


def _epochs_shown(capsys):
    return re.findall(r"Epoch (\d+)/(\d+)", capsys.readouterr().out)


def test_progress_counts_the_run_and_continues_after_resume(tmp_path, capsys):
    x = np.random.default_rng(0).random((200, 28, 28, 1)).astype("float32")
    checkpoint = str(tmp_path / "run.npz")
    history = training.fit_resumable(_vae(), x, epochs=3, batch_size=100, checkpoint=checkpoint, verbose=2)
    assert _epochs_shown(capsys) == [("1", "3"), ("2", "3"), ("3", "3")]
    assert len(history["loss"]) == 3

    # The same run extended to 5 epochs continues the count from its checkpoint.
    history = training.fit_resumable(_vae(), x, epochs=5, batch_size=100, checkpoint=checkpoint,
                                     resume=True, verbose=2)
    assert _epochs_shown(capsys) == [("4", "5"), ("5", "5")]
    assert len(history["loss"]) == 5
