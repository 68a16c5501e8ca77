import numpy as np
from keras import ops


def _psd_sqrt(matrix):
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Frechet distance between two Gaussians, in float64.

    Formula:

    ```python
    d = |mu1 - mu2|^2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))
    ```

    The trace of the matrix square root is computed as the sum of square
    roots of the eigenvalues of the symmetric `S1^(1/2) sigma2 S1^(1/2)`
    (`S1^(1/2)` from a symmetric eigen-decomposition), which has the same
    spectrum as `sigma1 sigma2` but cannot go complex; tiny negative
    eigenvalues from rounding are clipped to 0.

    Example:

    >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2))
    4.0

    Args:
        mu1, mu2: Means, shape `(d,)`.
        sigma1, sigma2: Covariances, shape `(d, d)`, symmetric PSD.

    Returns:
        The distance, a Python float (>= 0 up to rounding).

    Reference:
        - [Heusel et al., "GANs Trained by a Two Time-Scale Update Rule
          Converge to a Local Nash Equilibrium", 2017](
          https://arxiv.org/abs/1706.08500)
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    d = mu1.shape[0] if mu1.ndim == 1 else None
    if d is None or mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(
            "Expected means of shape (d,) and covariances of shape (d, d); "
            f"received {mu1.shape}, {s1.shape}, {mu2.shape}, {s2.shape}"
        )
    root1 = _psd_sqrt((s1 + s1.T) / 2)
    middle = root1 @ ((s2 + s2.T) / 2) @ root1
    eigenvalues = np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)
    trace_sqrt = float(np.sum(np.sqrt(eigenvalues)))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt)


_CONTROLLER = []


def _one_blas_thread():
    """Limits NumPy's BLAS to one thread for the small product in `update`.

    Multithreaded BLAS threads keep spinning after the call and take the
    cores from the framework's next forward pass: measured on 2 cores, the
    statistics of 10,000 MNIST features cost 1.5x the forward passes alone
    with BLAS threads and 1.0x with one (`benchmarks/fid.py`).
    """
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


class FeatureStatistics:
    """Streaming mean and covariance of feature vectors, in float64.

    Memory stays `O(d^2)` however many batches are added. Sums are kept
    around a shift (the first batch's mean) so the covariance does not lose
    precision to cancellation when features have large means.

    Example:

    >>> stats = FeatureStatistics()
    >>> stats.update(np.array([[0.0, 1.0], [2.0, 3.0]]))
    >>> stats.mean, stats.count
    (array([1., 2.]), 2)
    """

    def __init__(self):
        self.count = 0
        self._shift = None
        self._sum = None
        self._outer = None

    def update(self, features):
        f = np.asarray(ops.convert_to_numpy(features), np.float64)
        if f.ndim != 2:
            f = f.reshape(len(f), -1)
        if self._shift is None:
            self._shift = f.mean(axis=0)
            self._sum = np.zeros_like(self._shift)
            self._outer = np.zeros((f.shape[1], f.shape[1]))
        elif f.shape[1] != self._shift.shape[0]:
            raise ValueError(
                f"Feature size changed from {self._shift.shape[0]} to {f.shape[1]}"
            )
        centred = f - self._shift
        self._sum += centred.sum(axis=0)
        with _one_blas_thread():
            self._outer += centred.T @ centred
        self.count += len(f)

    def merge(self, other):
        """The statistics of both sets of feature vectors, exactly.

        `other`'s sums are moved to this one's shift `c`: with `delta` the
        difference of the shifts, `sum + n delta` and
        `outer + delta sum^T + sum delta^T + n delta delta^T`.

        Returns:
            A new `FeatureStatistics`.
        """
        if other.count == 0:
            return FeatureStatistics.from_state(self.state()) if self.count else FeatureStatistics()
        if self.count == 0:
            return FeatureStatistics.from_state(other.state())
        if other._shift.shape != self._shift.shape:
            raise ValueError(f"Feature sizes differ: {self._shift.shape[0]} and {other._shift.shape[0]}")
        delta = other._shift - self._shift
        merged = FeatureStatistics()
        merged.count = self.count + other.count
        merged._shift = self._shift.copy()
        merged._sum = self._sum + other._sum + other.count * delta
        merged._outer = (self._outer + other._outer + np.outer(delta, other._sum)
                         + np.outer(other._sum, delta) + other.count * np.outer(delta, delta))
        return merged

    def state(self):
        """The running sums as one float64 vector: count, shift, sum, cross products."""
        self._require(1)
        return np.concatenate([[self.count], self._shift, self._sum, self._outer.ravel()])

    def load_state(self, state):
        """Puts back the sums of `state()`."""
        state = np.asarray(state, np.float64)
        d = int(round((-2 + np.sqrt(4 + 4 * (len(state) - 1))) / 2))
        if 1 + 2 * d + d * d != len(state):
            raise ValueError(f"Not a FeatureStatistics state: {len(state)} values")
        self.count = int(state[0])
        self._shift, self._sum = state[1 : 1 + d].copy(), state[1 + d : 1 + 2 * d].copy()
        self._outer = state[1 + 2 * d :].reshape(d, d).copy()

    @classmethod
    def from_state(cls, state):
        """A `FeatureStatistics` holding the sums of `state()`."""
        stats = cls()
        stats.load_state(state)
        return stats

    @property
    def mean(self):
        self._require(1)
        return self._shift + self._sum / self.count

    @property
    def covariance(self):
        """Unbiased covariance (divides by `count - 1`)."""
        self._require(2)
        m = self._sum / self.count
        return (self._outer - self.count * np.outer(m, m)) / (self.count - 1)

    def _require(self, n):
        if self.count < n:
            raise ValueError(
                f"Need at least {n} feature vectors; have {self.count}."
            )
