import numpy as np

from keras_recon.metrics.frechet import FeatureStatistics
from keras_recon.metrics.frechet import frechet_distance


class FID:
    """Frechet distance between features of real and generated images.

    Features come from any Keras model that maps a batch of images to a
    batch of vectors: the coding layer of `keras_recon`'s own classifier
    (what Chen et al., 2019, do; see `keras_recon.metrics.classifier`), or, for the
    standard FID, a user's InceptionV3 pool layer (resize and scale the
    images the way that network expects inside the extractor). Statistics
    are streamed in float64, so memory does not grow with the number of
    images.

    Example:

    ```python
    fid = FID(extractor)
    real = fid.statistics(x_test)            # cache and reuse
    score = fid.distance(real, model_samples)
    ```

    Args:
        feature_extractor: A callable (e.g. `keras.Model`) from a batch of
            images to a batch of feature vectors.
        batch_size: Images per forward pass. Defaults to `500`.
    """

    def __init__(self, feature_extractor, batch_size=500):
        if not callable(feature_extractor):
            raise ValueError("`feature_extractor` must be callable, e.g. a keras.Model")
        if not isinstance(batch_size, int) or batch_size < 2:
            raise ValueError(f"`batch_size` must be an integer >= 2; received {batch_size!r}")
        self.feature_extractor = feature_extractor
        self.batch_size = batch_size

    def statistics(self, images):
        """Feature statistics of an array of images or an iterable of batches."""
        if isinstance(images, FeatureStatistics):
            return images
        stats = FeatureStatistics()
        for batch in self._batches(images):
            stats.update(self.feature_extractor(batch, training=False))
        return stats

    def distance(self, real, generated):
        """FID between two image sets (arrays, batch iterables or statistics)."""
        a, b = self.statistics(real), self.statistics(generated)
        return frechet_distance(a.mean, a.covariance, b.mean, b.covariance)

    __call__ = distance

    def _batches(self, images):
        if isinstance(images, np.ndarray) or hasattr(images, "shape"):
            images = np.asarray(images)
            for start in range(0, len(images), self.batch_size):
                yield images[start : start + self.batch_size]
        else:
            for batch in images:
                yield batch[0] if isinstance(batch, tuple) else batch
