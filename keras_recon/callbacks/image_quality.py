import keras
import numpy as np

from keras_recon.callbacks import _model_access as access
from keras_recon.metrics.sharpness import sharpness
from keras_recon.metrics.ssim import ssim


class ImageQuality(keras.callbacks.Callback):
    """Logs sharpness and SSIM of reconstructions (and samples) each epoch.

    At the end of every epoch it reconstructs a held-out batch and, when the
    model can sample, generates as many images, then writes plain floats
    into `logs`:

    - `recon_sharpness`: mean sharpness of the reconstructions,
    - `sample_sharpness`: mean sharpness of random samples,
    - `recon_ssim`: mean SSIM between the held-out images and their
      reconstructions.

    `History` sees them, and so do `CSVLogger` and `TensorBoard` placed
    after this callback in the `callbacks` list.

    Example:

    ```python
    model.fit(x, x, epochs=10, callbacks=[
        ImageQuality(x_val[:500]),
        keras.callbacks.CSVLogger("log.csv"),
    ])
    ```

    Args:
        images: Held-out float images in `[0, 1]` (flat vectors are
            reshaped, see `image_shape`).
        num_samples: How many samples to generate. Defaults to `len(images)`.
        seed: Seed of the samples, fixed so epochs are comparable.
            Defaults to `0`.
        image_shape: `(h, w, c)` of flat inputs. Defaults to `None` (square
            grey images are inferred).
        reconstruct_fn: `x -> reconstructions`. Defaults to `None`: the
            model's `reconstruct`, else its call.
        sample_fn: `(n, seed) -> samples`. Defaults to `None`: the model's
            `sample`, if it has one; otherwise `sample_sharpness` is omitted.
        prefix: Prepended to each key. Defaults to `""`.
    """

    def __init__(
        self, images, num_samples=None, seed=0, image_shape=None,
        reconstruct_fn=None, sample_fn=None, prefix="",
    ):
        super().__init__()
        self.images = np.asarray(images, np.float32)
        if len(self.images) < 1:
            raise ValueError("`images` must hold at least one image")
        self.num_samples = len(self.images) if num_samples is None else int(num_samples)
        self.seed = seed
        self.image_shape = image_shape
        self.reconstruct_fn = reconstruct_fn
        self.sample_fn = sample_fn
        self.prefix = prefix

    def measure(self):
        """The metrics for the current model, as a dict of floats."""
        originals = access.as_images(self.images, self.image_shape)
        recon = access.as_images(
            access.reconstruct(self.model, self.images, self.reconstruct_fn), self.image_shape
        )
        results = {
            "recon_sharpness": float(np.mean(keras.ops.convert_to_numpy(sharpness(recon)))),
            "recon_ssim": float(np.mean(keras.ops.convert_to_numpy(ssim(originals, recon)))),
        }
        samples = access.sample(self.model, self.num_samples, self.seed, self.sample_fn)
        if samples is not None:
            samples = access.as_images(samples, self.image_shape)
            results["sample_sharpness"] = float(
                np.mean(keras.ops.convert_to_numpy(sharpness(samples)))
            )
        return {self.prefix + k: v for k, v in results.items()}

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.measure())
