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


def continued_beta_divergence(y, x, beta, eps=1e-7):
    """The documented continuation below eps, from its definition: the
    Bregman divergence `phi(y) - phi(x) - L(x) (y - x)` of the generator
    `phi` with `phi' = L = (t**(beta-1) - 1) / (beta - 1)` (log at beta = 1),
    where below eps `L` is replaced by its tangent and `phi` by its
    second-order Taylor polynomial. Float64; loses precision where y ~ x
    (the Bregman form cancels), which the tests avoid, tolerate, or
    reduce by passing `np.longdouble` inputs."""
    dtype = np.result_type(np.asarray(y).dtype, np.asarray(x).dtype, np.float64)
    y = np.asarray(y, dtype)
    x = np.asarray(x, dtype)
    lam = beta - 1.0

    def L(t):
        return np.log(t) if lam == 0 else (t**lam - 1) / lam

    def phi(t):
        if beta == 1:
            return t * np.log(t) - t + 1
        if beta == 0:
            return t - 1 - np.log(t)
        return (t**beta - beta * t + beta - 1) / (beta * lam)

    eps = dtype.type(eps)
    curvature = eps ** (beta - 2)

    def L_continued(t):
        safe = np.maximum(t, eps)
        return np.where(t >= eps, L(safe), L(eps) + curvature * (t - eps))

    def phi_continued(t):
        safe = np.maximum(t, eps)
        below = phi(eps) + L(eps) * (t - eps) + 0.5 * curvature * (t - eps) ** 2
        return np.where(t >= eps, phi(safe), below)

    return phi_continued(y) - phi_continued(x) - L_continued(x) * (y - x)


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
