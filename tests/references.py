"""NumPy float64 references for every loss, written from the papers' formulas.

These are deliberately direct (no shared code with the package) so that the
tests compare two independent implementations.
"""

import numpy as np


def log_cosh(t, a):
    # (1/a) log cosh(a t): log(2 cosh u) - log 2 for large |u|; for small |u|
    # log cosh u = -log(1 - tanh(u)^2) / 2 avoids cancelling against log 2.
    u = a * np.asarray(t, np.float64)
    large = np.logaddexp(u, -u) - np.log(2.0)
    small = -0.5 * np.log1p(-np.tanh(np.minimum(np.abs(u), 1.0)) ** 2)
    return np.where(np.abs(u) < 0.5, small, large) / a


def squared_error(t):
    return np.asarray(t, np.float64) ** 2


def absolute_error(t):
    return np.abs(np.asarray(t, np.float64))


def generalized_kl(p, q, eps=1e-7):
    p = np.asarray(p, np.float64)
    q = np.asarray(q, np.float64)
    # 0 log 0 = 0; log of zero floored at eps (the documented convention).
    logp = np.log(np.maximum(p, eps))
    logq = np.log(np.maximum(q, eps))
    return np.where(p == 0, 0.0, p * (logp - logq)) - p + q


def beta_divergence(y, x, beta):
    y = np.asarray(y, np.float64)
    x = np.asarray(x, np.float64)
    if beta == 2:
        return 0.5 * (y - x) ** 2
    if beta == 1:
        return y * np.log(y / x) - y + x
    if beta == 0:
        return y / x - np.log(y / x) - 1
    return (
        y**beta / (beta * (beta - 1))
        + x**beta / beta
        - y * x ** (beta - 1) / (beta - 1)
    )


def rho(x, alpha, c):
    """Barron's eq. 1 with its closed-form limits, in float64."""
    z = (np.asarray(x, np.float64) / c) ** 2
    if alpha == 2:
        return 0.5 * z
    if alpha == 0:
        return np.log(0.5 * z + 1)
    if alpha == -np.inf:
        return 1 - np.exp(-0.5 * z)
    if alpha == np.inf:
        return np.exp(0.5 * z) - 1
    b = abs(alpha - 2)
    return b / alpha * ((z / b + 1) ** (alpha / 2) - 1)


def central_difference(f, x, h):
    """Elementwise derivative of an elementwise float64 function."""
    x = np.asarray(x, np.float64)
    return (f(x + h) - f(x - h)) / (2 * h)
