"""Fits the two polynomials behind the compiled log-cosh value
(`keras_recon.losses.log_cosh._one_exponential`).

    python tools/fit_log_cosh_polynomials.py

With `u = |a t|`:

- `u < 1`: `log cosh u = v P(v)` with `v = u^2`, `P` of degree 6 fitted to
  `log cosh(sqrt v) / v` on `[0, 1]`. Its Taylor series in `v` converges
  out to `v = -(pi/2)^2`, so a Chebyshev fit on `[0, 1]` gains a factor of
  about 12 per degree; degree 6 is within 1 float32 ulp.
- `u >= 1`: `log cosh u = u - log 2 + e Q(e)` with `e = exp(-2u)` in
  `(0, exp(-2)]`, `Q` of degree 5 fitted to `log1p(e) / e`.

Both are least-squares Chebyshev fits at 400 Chebyshev nodes in float64,
with the reference `log cosh s = log1p(2 sinh(s/2)^2)` (no cancellation),
converted to monomial coefficients (constant first) and rounded to float32.
Prints the coefficients and their largest relative error over 20,001
points, evaluated in float32 by Horner's rule as the loss does.
"""

import numpy as np
from numpy.polynomial import chebyshev
from numpy.polynomial import polynomial

NODES = 400


def _log_cosh_over_v(v):
    s = np.sqrt(v)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.log1p(2.0 * np.sinh(0.5 * s) ** 2) / v
    return np.where(v == 0, 0.5, out)


def _log1p_over_e(e):
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.log1p(e) / e
    return np.where(e == 0, 1.0, out)


TARGETS = {"P": (_log_cosh_over_v, 1.0, 6), "Q": (_log1p_over_e, float(np.exp(-2.0)), 5)}


def fit(name):
    """Monomial coefficients of polynomial `name` ("P" or "Q"), float32."""
    function, high, degree = TARGETS[name]
    x = np.cos(np.pi * (np.arange(NODES) + 0.5) / NODES)
    coefficients = chebyshev.chebfit(x, function((x + 1.0) * 0.5 * high), degree)
    in_x = polynomial.Polynomial(chebyshev.cheb2poly(coefficients))
    return in_x(polynomial.Polynomial([-1.0, 2.0 / high])).coef.astype("float32")


def horner(coefficients, x):
    acc = np.full_like(x, coefficients[-1])
    for c in coefficients[-2::-1]:
        acc = acc * x + c
    return acc


def main():
    for name, (function, high, _) in TARGETS.items():
        coefficients = fit(name)
        x = np.linspace(0.0, high, 20001).astype("float32")
        error = np.abs(horner(coefficients, x) / function(x.astype("float64")) - 1.0).max()
        print(f"{name} = {[float(c) for c in coefficients]}  # max relative error {error:.1e}")


if __name__ == "__main__":
    main()
