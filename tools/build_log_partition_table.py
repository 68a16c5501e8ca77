"""Builds the table of log Z(alpha) behind `keras_recon.likelihoods.log_partition`.

    python tools/build_log_partition_table.py

Z(alpha) = integral over x of exp(-rho(x, alpha, 1)), Barron's general loss
with unit scale. log Z is continuous but not smooth at alpha = 2: expanding
rho in b = |alpha - 2| gives d log Z / d alpha = log|alpha - 2| / 4 + O(1)
(we measured log Z(2 -+ 1e-6) - log Z(2) = +-3.386e-6, matching the
expansion). The table therefore holds the smooth remainder

    g(alpha) = log Z(alpha) - singular(alpha),
    singular(alpha) = (alpha - 2) log|alpha - 2| / 4 * exp(-(alpha - 2)^2 / 2),

(the Gaussian window keeps the correction local and leaves the singularity
unchanged to first order) and its derivative at 8,193 knots uniform in u = alpha / (1 + alpha), which
maps [0, inf] to [0, 1]; cubic Hermite interpolation of g is C1 in alpha.
Each integral is computed with scipy's adaptive quadrature to 1e-13
relative error; slopes are central differences of g in u.
"""

import os

import numpy as np
from scipy import integrate

KNOTS = 8192
OUT = os.path.join(
    os.path.dirname(__file__), "..", "keras_recon", "likelihoods", "resources", "log_partition.npz"
)


def rho(x, alpha):
    # exp(-rho) underflows to 0 far out; the overflow there is harmless.
    with np.errstate(over="ignore"):
        return _rho(x, alpha)


def _rho(x, alpha):
    z = x * x
    if alpha == 0:
        return np.log1p(0.5 * z)
    if alpha == 2:
        return 0.5 * z
    if np.isinf(alpha):
        return np.expm1(0.5 * z)
    b = abs(alpha - 2.0)
    return b / alpha * np.expm1(0.5 * alpha * np.log1p(z / b))


def log_z(alpha):
    def f(x):
        return np.exp(-rho(x, alpha))

    # Symmetric: twice the half line, split where the mass is.
    total = 0.0
    for lo, hi in ((0, 1), (1, 10), (10, np.inf)):
        value, _ = integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-13, limit=500)
        total += value
    return float(np.log(2.0 * total))


def singular(alpha):
    if np.isinf(alpha) or alpha == 2.0:
        return 0.0
    gap = alpha - 2.0
    return 0.25 * gap * np.log(abs(gap)) * np.exp(-0.5 * gap * gap)


def smooth_part(alpha):
    return log_z(alpha) - singular(alpha)


def alpha_of(u):
    return np.inf if u >= 1.0 else u / (1.0 - u)


def main():
    u = np.linspace(0.0, 1.0, KNOTS + 1)
    values = np.array([smooth_part(alpha_of(v)) for v in u])
    h = 1e-5
    slopes = np.empty_like(values)
    for i, v in enumerate(u):
        lo, hi = max(v - h, 0.0), min(v + h, 1.0)
        slopes[i] = (smooth_part(alpha_of(hi)) - smooth_part(alpha_of(lo))) / (hi - lo)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    np.savez_compressed(OUT, u=u, g=values, dg_du=slopes)
    print(f"wrote {OUT}: log Z(0) = {log_z(0.0):.12f}, log Z(inf) = {values[-1]:.12f}")


if __name__ == "__main__":
    main()
