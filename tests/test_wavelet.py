"""The CDF 9/7 wavelet against PyWavelets' `bior4.4` with periodization."""

import warnings

import numpy as np
import pytest
import pywt

from keras_recon.likelihoods.representations import wavelet_cdf97
from tests.backend_utils import to_numpy


def pywavelets_bands(image, levels):
    """`pywt.wavedec2` of a 2-D float64 image: `[cA, (cH, cV, cD), ...]`,
    coarsest level first."""
    with warnings.catch_warnings():
        # PyWavelets warns when the level exceeds its filter-length limit;
        # periodization stays well defined there.
        warnings.simplefilter("ignore")
        return pywt.wavedec2(image, "bior4.4", mode="periodization", level=levels)


def our_bands(coefficients, levels):
    """The bands of one `(h, w)` channel of `wavelet_cdf97`'s output in
    `pywt.wavedec2`'s order. Our bottom-left block (highpass along the
    height) is PyWavelets' cH, the top-right one (highpass along the width)
    its cV."""
    h, w = coefficients.shape
    details = []
    for level in range(1, levels + 1):
        i, j = h // 2**level, w // 2**level
        details.append((coefficients[i : 2 * i, :j], coefficients[:i, j : 2 * j], coefficients[i : 2 * i, j : 2 * j]))
    i, j = h // 2**levels, w // 2**levels
    return [coefficients[:i, :j]] + details[::-1]


def named_bands(bands):
    """`[cA, (cH, cV, cD), ...]` as `(name, array)` pairs."""
    pairs = [("cA", bands[0])]
    for level, details in enumerate(bands[1:]):
        pairs += [(f"{name} (level {len(bands) - 1 - level})", d) for name, d in zip(("cH", "cV", "cD"), details)]
    return pairs


def assert_bands_equal(ours, theirs):
    assert len(ours) == len(theirs)
    for (name, mine), (_, ref) in zip(named_bands(ours), named_bands(theirs)):
        assert mine.shape == ref.shape, name
        # Float32 rounding, relative to the band's scale.
        np.testing.assert_allclose(mine, ref, rtol=0, atol=1e-5 * np.abs(ref).max(), err_msg=name)


@pytest.mark.parametrize(
    "shape,levels,expected_levels",
    [((16, 16), 1, 1), ((16, 16), 2, 2), ((16, 16), 3, 3), ((32, 16), 1, 1), ((32, 16), 3, 3), ((12, 20), 2, 2),
     # The default: as many levels as keep the transformed band even and >= 4.
     ((16, 16), None, 3), ((32, 16), None, 3), ((8, 8), None, 2), ((12, 20), None, 2), ((4, 6), None, 1)],
)
def test_wavelet_equals_pywavelets_bior44_periodization(shape, levels, expected_levels):
    h, w = shape
    images = np.random.default_rng(h * w).normal(size=(2, h, w, 3)).astype("float32")
    coefficients = to_numpy(wavelet_cdf97(images) if levels is None else wavelet_cdf97(images, levels))
    assert coefficients.shape == images.shape
    for b in range(images.shape[0]):
        for c in range(images.shape[-1]):
            theirs = pywavelets_bands(images[b, :, :, c].astype(np.float64), expected_levels)
            assert_bands_equal(our_bands(coefficients[b, :, :, c], expected_levels), theirs)


def test_wavelet_lowpass_gain_is_sqrt2_per_direction():
    constant = np.ones((1, 16, 16, 1), "float32")
    one_level = to_numpy(wavelet_cdf97(constant, 1))[0, :, :, 0]
    np.testing.assert_allclose(one_level[:8, :8], 2.0, rtol=1e-5)
    np.testing.assert_allclose(one_level[8:, :], 0.0, atol=1e-5)
    np.testing.assert_allclose(one_level[:, 8:], 0.0, atol=1e-5)
    three_levels = to_numpy(wavelet_cdf97(constant, 3))[0, :, :, 0]
    np.testing.assert_allclose(three_levels[:2, :2], 8.0, rtol=1e-5)


@pytest.mark.parametrize("levels", [1, None])
def test_wavelet_determinant_is_one(levels):
    n = 8 * 8
    basis = np.eye(n, dtype="float32").reshape(n, 8, 8, 1)
    matrix = to_numpy(wavelet_cdf97(basis, levels)).reshape(n, n).astype(np.float64)
    assert abs(abs(np.linalg.det(matrix)) - 1.0) < 1e-4
    # The same matrix as PyWavelets' transform of the basis images.
    theirs = np.stack([pywt.coeffs_to_array(pywavelets_bands(e.astype(np.float64), levels or 2))[0].reshape(n)
                       for e in basis[..., 0]])
    np.testing.assert_allclose(matrix, theirs, atol=1e-5)
