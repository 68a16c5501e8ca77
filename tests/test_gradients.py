"""Every loss's gradient, in both arguments, against finite differences of
its float64 reference (tests/references.py), including the points below the
divergences' floors. Computed in float64, so the comparison is tight; on
JAX inside `jax.enable_x64()`."""

import contextlib
import itertools
import math

import numpy as np
import pytest

from keras_recon import losses
from tests import references as ref
from tests.backend_utils import BACKEND
from tests.backend_utils import value_and_grads

EPS = 1e-7


def float64_context():
    if BACKEND == "jax":
        import jax

        return jax.enable_x64(True)
    return contextlib.nullcontext()


def residual_pairs():
    """(y_true, y_pred) with residuals from 1e-4 to 3 in both signs."""
    rng = np.random.default_rng(3)
    y_true = rng.uniform(-1.0, 1.0, 40)
    residual = rng.choice([-1.0, 1.0], 40) * np.exp(rng.uniform(np.log(1e-4), np.log(3.0), 40))
    return y_true, y_true + residual


def floor_pairs():
    """Non-negative (y_true, y_pred) on a grid through zero, the floor
    region and ordinary values, without the diagonal y_true == y_pred."""
    grid = [0.0, 1e-9, 5e-8, 3e-7, 0.3, 1.0]
    pairs = [(y, x) for y, x in itertools.product(grid, grid) if y != x]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def floor_step(y, x, wrt):
    """A step that stays on one side of the floor `EPS`."""
    v = (y, x)[wrt]
    return np.where(v < 1e-6, 1e-3 * np.abs(v - EPS), 1e-6 * v)


def residual_step(y, x, wrt):
    """A step much smaller than the residual (the kink of `|t|`)."""
    return np.minimum(1e-3 * np.abs(x - y), 1e-6)


def central(f, y, x, wrt, step):
    h = step(y, x, wrt)
    if wrt == 0:
        return (f(y + h, x) - f(y - h, x)) / (2 * h)
    return (f(y, x + h) - f(y, x - h)) / (2 * h)


def divergence(beta):
    # In extended precision: the reference's Bregman form cancels.
    return lambda y, x: ref.continued_beta_divergence(
        np.longdouble(y), np.longdouble(x), beta, EPS
    ).astype(np.float64)


CASES = {
    "squared_error": (losses.squared_error, lambda y, x: ref.squared_error(x - y), residual_pairs),
    "absolute_error": (losses.absolute_error, lambda y, x: ref.absolute_error(x - y), residual_pairs),
    "i_divergence_1": (
        lambda t, p: losses.i_divergence(t, p, direction=1),
        lambda y, x: divergence(1.0)(x, y),
        floor_pairs,
    ),
    "i_divergence_2": (lambda t, p: losses.i_divergence(t, p, direction=2), divergence(1.0), floor_pairs),
}
for _beta in (-1.0, 0.0, 0.5, 0.7, 1.0, 1.5, 3.0):
    CASES[f"beta_divergence_{_beta}"] = (
        lambda t, p, b=_beta: losses.beta_divergence(t, p, beta=b), divergence(_beta), floor_pairs
    )
for _a in (1.0, 100.0):
    for _surrogate in (True, False):
        CASES[f"log_cosh_{_a}_{_surrogate}"] = (
            lambda t, p, a=_a, s=_surrogate: losses.log_cosh(t, p, a=a, surrogate_gradient=s),
            lambda y, x, a=_a: ref.log_cosh(x - y, a),
            residual_pairs,
        )
for _alpha in (-math.inf, -2.0, 0.0, 1.0, 2.0, 4.0):
    CASES[f"general_robust_{_alpha}"] = (
        lambda t, p, a=_alpha: losses.general_robust(t, p, alpha=a, scale=0.5),
        lambda y, x, a=_alpha: ref.rho(x - y, a, 0.5),
        residual_pairs,
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_finite_differences_of_the_reference_in_both_arguments(name):
    fn, reference, pairs = CASES[name]
    y_true, y_pred = pairs()
    with float64_context():
        _, (grad_true, grad_pred) = value_and_grads(
            lambda t, p: fn(t[:, None], p[:, None]), y_true, y_pred
        )
    assert grad_pred.dtype == np.float64 and grad_true.dtype == np.float64
    for got, wrt in ((grad_true, 0), (grad_pred, 1)):
        step = floor_step if pairs is floor_pairs else residual_step
        expected = central(reference, y_true, y_pred, wrt, step)
        h = step(y_true, y_pred, wrt)
        # The difference quotient's own noise: the reference's rounding
        # (extended precision, 1e-19, on terms up to 1e3 times the value)
        # over the step.
        noise = 1e-16 * np.maximum(1.0, np.abs(reference(y_true, y_pred))) / h
        atol = np.maximum(noise, 1e-12 * np.max(np.abs(expected)))
        mismatch = np.abs(got - expected) > atol + 1e-6 * np.abs(expected)
        assert not mismatch.any(), (
            f"d/d{'y_true' if wrt == 0 else 'y_pred'} at {np.flatnonzero(mismatch)}: "
            f"{got[mismatch]} against {expected[mismatch]}"
        )
