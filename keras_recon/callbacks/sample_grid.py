import os

import keras
import numpy as np

from keras_recon.callbacks import _model_access as access
from keras_recon.images import image_grid
from keras_recon.images import save_png


class SampleGrid(keras.callbacks.Callback):
    """Saves a PNG each epoch: inputs, their reconstructions, and samples.

    Row 1 holds the held-out inputs, row 2 their reconstructions, row 3 (if
    the model can sample) random samples with a fixed seed, so the files
    show the same digits and codes epoch after epoch. PNGs are written by
    Pillow to `directory/epoch_{epoch:03d}.png`; with `tensorboard_dir` the
    same grid is also logged as a TensorBoard image (needs TensorFlow).

    Args:
        images: Held-out images in `[0, 1]`, at most a few dozen.
        directory: Where the PNGs go (created if needed).
        seed: Seed of the samples. Defaults to `0`.
        image_shape: `(h, w, c)` of flat inputs. Defaults to `None`.
        tensorboard_dir: Log directory for TensorBoard images. Defaults to
            `None` (no TensorBoard output).
        reconstruct_fn: `x -> reconstructions`. Defaults to `None`.
        sample_fn: `(n, seed) -> samples`. Defaults to `None`.
    """

    def __init__(
        self, images, directory, seed=0, image_shape=None, tensorboard_dir=None,
        reconstruct_fn=None, sample_fn=None,
    ):
        super().__init__()
        self.images = np.asarray(images, np.float32)
        self.directory = os.fspath(directory)
        self.seed = seed
        self.image_shape = image_shape
        self.tensorboard_dir = tensorboard_dir
        self.reconstruct_fn = reconstruct_fn
        self.sample_fn = sample_fn
        self._writer = None
        if tensorboard_dir is not None:
            try:
                import tensorboard  # noqa: F401
                import tensorflow as tf
            except ImportError as e:
                raise ImportError(
                    "`tensorboard_dir` needs TensorFlow and TensorBoard: "
                    "pip install tensorflow-cpu tensorboard"
                ) from e
            self._writer = tf.summary.create_file_writer(os.fspath(tensorboard_dir))

    def grid(self):
        rows = [
            access.as_images(self.images, self.image_shape),
            access.as_images(
                access.reconstruct(self.model, self.images, self.reconstruct_fn), self.image_shape
            ),
        ]
        samples = access.sample(self.model, len(self.images), self.seed, self.sample_fn)
        if samples is not None:
            rows.append(access.as_images(samples, self.image_shape))
        return image_grid(rows)

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        picture = self.grid()
        save_png(os.path.join(self.directory, f"epoch_{epoch:03d}.png"), picture)
        if self._writer is not None:
            import tensorflow as tf

            image = picture[None, ..., None] if picture.ndim == 2 else picture[None]
            with self._writer.as_default():
                tf.summary.image("inputs_reconstructions_samples", image, step=epoch)
            self._writer.flush()
