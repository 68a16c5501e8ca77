"""Volume-preserving image representations for the adaptive likelihood.

Barron's VAE experiment models images as pixels, as a 2-D DCT, or as a
CDF 9/7 wavelet decomposition, optionally after an RGB -> YUV change of
colour space. Every transform here is linear with Jacobian determinant +-1,
so a likelihood computed on the transformed image is a likelihood of the
image itself and the numbers stay comparable across representations.
"""

import math

import numpy as np
from keras import ops

_YUV = np.array(
    [[0.299, 0.587, 0.114], [-0.14713, -0.28886, 0.436], [0.615, -0.51499, -0.10001]]
)
# Scaled to determinant 1: volume preserving.
YUV_MATRIX = (_YUV / np.cbrt(np.linalg.det(_YUV))).astype("float32")

# CDF 9/7 lifting coefficients alpha, beta, gamma, delta and the scaling zeta
# (Daubechies & Sweldens 1998).
_A, _B, _G, _D, _K = -1.586134342, -0.05298011854, 0.8829110762, 0.4435068522, 1.149604398


def rgb_to_yuv(images):
    """RGB -> YUV with the BT.601 matrix scaled to determinant 1."""
    return ops.einsum("...c,dc->...d", images, ops.convert_to_tensor(YUV_MATRIX))


def dct_matrix(n):
    """The orthonormal DCT-II matrix of size n."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.sqrt(2.0 / n) * np.cos(math.pi * (2 * i + 1) * k / (2 * n))
    m[0] /= math.sqrt(2.0)
    return m.astype("float32")


def dct2(images):
    """Orthonormal 2-D DCT over height and width of `(batch, h, w, c)`."""
    h, w = images.shape[1], images.shape[2]
    dh, dw = ops.convert_to_tensor(dct_matrix(h)), ops.convert_to_tensor(dct_matrix(w))
    return ops.einsum("ki,bijc,lj->bklc", dh, images, dw)


def _lift_1d(x, axis):
    """One level of the CDF 9/7 wavelet along `axis` (even length), periodic.

    With `s` the even samples, `d` the odd ones and indices taken modulo
    the half length, the lifting steps of Daubechies and Sweldens are

        d[n] += alpha * (s[n] + s[n + 1])
        s[n] += beta  * (d[n] + d[n - 1])
        d[n] += gamma * (s[n] + s[n + 1])
        s[n] += delta * (d[n] + d[n - 1])
        s = zeta * s,  d = -d / zeta

    with alpha = -1.586134342, beta = -0.05298011854, gamma = 0.8829110762,
    delta = 0.4435068522 and zeta = 1.149604398 (I. Daubechies and
    W. Sweldens, Factoring wavelet transforms into lifting steps, Journal
    of Fourier Analysis and Applications, 1998). The lowpass `s` then has
    gain sqrt(2) on a constant signal. Returns `[s, d]` concatenated along
    `axis`: PyWavelets' `pywt.dwt(x, "bior4.4", mode="periodization")`.
    Each step is a shear and the scaling has determinant 1, so the map is
    volume preserving.
    """
    n = x.shape[axis]
    even = ops.take(x, list(range(0, n, 2)), axis=axis)
    odd = ops.take(x, list(range(1, n, 2)), axis=axis)
    odd = odd + _A * (even + ops.roll(even, -1, axis=axis))
    even = even + _B * (odd + ops.roll(odd, 1, axis=axis))
    odd = odd + _G * (even + ops.roll(even, -1, axis=axis))
    even = even + _D * (odd + ops.roll(odd, 1, axis=axis))
    # The minus sign gives the highpass PyWavelets' sign (its bior4.4
    # analysis highpass is the negated lifting one).
    return ops.concatenate([even * _K, odd * (-1.0 / _K)], axis=axis)


def wavelet_cdf97(images, levels=None):
    """CDF 9/7 wavelet decomposition of `(batch, h, w, c)`, in place.

    Each level transforms the columns, then the rows, of the current
    lowpass band, which shrinks by two; `levels` defaults to as many as the
    sides allow while the band they transform stays even and at least 4.

    Layout of one level on a band of size `bh x bw` (`i = bh // 2`,
    `j = bw // 2`), with PyWavelets' names for
    `pywt.wavedec2(x, "bior4.4", mode="periodization", level=levels)` on a
    `(h, w)` image, whose bands equal these:

        [:i, :j] lowpass in both directions (the next level's band; cA)
        [i:, :j] highpass along the height, lowpass along the width (cH)
        [:i, j:] lowpass along the height, highpass along the width (cV)
        [i:, j:] highpass in both directions (cD)
    """
    h, w = images.shape[1], images.shape[2]
    if levels is None:
        levels = 0
        while h % (2 ** (levels + 1)) == 0 and w % (2 ** (levels + 1)) == 0 and min(h, w) // 2 ** (levels + 1) >= 2:
            levels += 1
    out = images
    for level in range(levels):
        bh, bw = h // 2**level, w // 2**level
        if bh % 2 or bw % 2:
            raise ValueError(f"Wavelet level {level + 1} needs even sides; the band is {bh}x{bw}")
        band = out[:, :bh, :bw, :]
        band = _lift_1d(_lift_1d(band, 1), 2)
        top = ops.concatenate([band, out[:, :bh, bw:, :]], axis=2)
        out = ops.concatenate([top, out[:, bh:, :, :]], axis=1)
    return out


REPRESENTATIONS = ("pixels", "dct", "wavelet")


def represent(images, representation="pixels", color="rgb"):
    """Applies the colour space and representation; both volume preserving."""
    if representation not in REPRESENTATIONS:
        raise ValueError(
            f"Argument `representation` must be one of {REPRESENTATIONS}. "
            f"Received: representation={representation!r}"
        )
    if color not in ("rgb", "yuv"):
        raise ValueError(f"Argument `color` must be 'rgb' or 'yuv'. Received: color={color!r}")
    if color == "yuv":
        if images.shape[-1] != 3:
            raise ValueError(f"color='yuv' needs 3 channels; received {images.shape[-1]}")
        images = rgb_to_yuv(images)
    if representation == "dct":
        return dct2(images)
    if representation == "wavelet":
        return wavelet_cdf97(images)
    return images
