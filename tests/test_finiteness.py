"""Value and gradient stay finite over 100,000 random draws with extremes."""

import math

import numpy as np
import pytest
from keras import ops

from keras_recon import losses
from tests.backend_utils import value_and_grads

N = 100_000


def signed_extremes(rng, n, low=-8, high=4):
    """Residuals with magnitudes from 1e-8 to 1e4, random signs, some 0."""
    x = rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(low, high, n)
    x[rng.uniform(size=n) < 0.02] = 0.0
    return x


def non_negative_extremes(rng, n):
    x = 10.0 ** rng.uniform(-8, 4, n)
    x[rng.uniform(size=n) < 0.1] = 0.0
    return x


def assert_all_finite(fn, *arrays):
    value, grads = value_and_grads(fn, *arrays)
    assert np.all(np.isfinite(value)), "non-finite value"
    for i, g in enumerate(grads):
        bad = ~np.isfinite(g)
        assert not bad.any(), f"non-finite gradient in argument {i}: {arrays[i][bad][:5]}"


def test_log_cosh_finite_for_a_up_to_1e4():
    rng = np.random.default_rng(0)
    for a in np.logspace(-2, 4, 10):
        t = signed_extremes(rng, N // 10).astype("float32").reshape(100, -1)
        y_true = rng.uniform(0, 1, t.shape).astype("float32")
        for surrogate in (True, False):
            assert_all_finite(
                lambda yt, yp: losses.log_cosh(
                    yt, yp, a=float(a), surrogate_gradient=surrogate
                ),
                y_true,
                y_true + t,
            )


@pytest.mark.parametrize("fn", [losses.squared_error, losses.absolute_error])
def test_l2_and_l1_finite(fn):
    rng = np.random.default_rng(1)
    y_pred = signed_extremes(rng, N).astype("float32").reshape(1000, -1)
    assert_all_finite(fn, np.zeros_like(y_pred), y_pred)


@pytest.mark.parametrize("direction", [1, 2])
def test_i_divergence_finite(direction):
    rng = np.random.default_rng(2)
    y_true = non_negative_extremes(rng, N).astype("float32").reshape(1000, -1)
    y_pred = non_negative_extremes(rng, N).astype("float32").reshape(1000, -1)
    assert_all_finite(
        lambda t, p: losses.i_divergence(t, p, direction=direction), y_true, y_pred
    )


@pytest.mark.parametrize("beta", [-1.0, 0.0, 0.5, 1.0 - 1e-4, 1.0, 1.5, 2.0, 3.0])
def test_beta_divergence_finite(beta):
    rng = np.random.default_rng(3)
    y_true = non_negative_extremes(rng, N).astype("float32").reshape(1000, -1)
    y_pred = non_negative_extremes(rng, N).astype("float32").reshape(1000, -1)
    assert_all_finite(
        lambda t, p: losses.beta_divergence(t, p, beta=beta), y_true, y_pred
    )


def robust_draws(rng, n):
    x = signed_extremes(rng, n)
    alpha = rng.uniform(-16, 16, n)
    specials = np.array([-math.inf, -2.0, 0.0, 1.0, 2.0, math.inf])
    pick = rng.uniform(size=n) < 0.1
    alpha[pick] = rng.choice(specials, pick.sum())
    scale = 10.0 ** rng.uniform(-3, 3, n)
    return x, alpha, scale


def test_robust_rho_finite_in_value_and_all_gradients():
    rng = np.random.default_rng(4)
    x, alpha, scale = (a.astype("float32") for a in robust_draws(rng, N))
    assert_all_finite(losses.robust_rho, x, alpha, scale)


@pytest.mark.parametrize(
    "alpha", [-math.inf, -16.0, -2.0, 0.0, 1e-7, 1.0, 2.0 - 1e-7, 2.0, 16.0, math.inf]
)
def test_general_robust_fixed_alpha_finite(alpha):
    rng = np.random.default_rng(5)
    for scale in (1e-3, 1.0, 1e3):
        y_pred = signed_extremes(rng, N // 3).astype("float32").reshape(1, -1)
        assert_all_finite(
            lambda t, p: losses.general_robust(t, p, alpha=alpha, scale=scale),
            np.zeros_like(y_pred),
            y_pred,
        )


HALF_CASES = {
    "log_cosh": lambda t, p: losses.log_cosh(t, p, a=100.0),
    "log_cosh_a1e4": lambda t, p: losses.log_cosh(t, p, a=1e4),
    "squared_error": losses.squared_error,
    "absolute_error": losses.absolute_error,
    "i_divergence_1": lambda t, p: losses.i_divergence(t, p, direction=1),
    "i_divergence_2": lambda t, p: losses.i_divergence(t, p, direction=2),
    "beta_divergence_0": lambda t, p: losses.beta_divergence(t, p, beta=0.0),
    "beta_divergence_1.5": lambda t, p: losses.beta_divergence(t, p, beta=1.5),
    "general_robust_-inf": lambda t, p: losses.general_robust(t, p, alpha=-math.inf),
    "general_robust_0": lambda t, p: losses.general_robust(t, p, alpha=0.0),
    "general_robust_1": lambda t, p: losses.general_robust(t, p, alpha=1.0, scale=0.01),
}


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", sorted(HALF_CASES))
def test_half_precision_sweep_is_finite(dtype, name):
    rng = np.random.default_rng(6)
    if dtype == "bfloat16":
        # bfloat16 has float32's range: magnitudes 1e-4 to 1e3.
        low, high = -4, 3
    else:
        # float16 tops out at 65504; keep the true gradients (up to y/x^2 for
        # Itakura-Saito) representable: magnitudes 0.05 to 20.
        low, high = math.log10(0.05), math.log10(20.0)
    y_true = (10.0 ** rng.uniform(low, high, 2000)).reshape(20, -1)
    y_pred = (10.0 ** rng.uniform(low, high, 2000)).reshape(20, -1)
    if not (dtype == "float16" and name in ("beta_divergence_0", "i_divergence_1")):
        # Zeros, except where y_true = 0 is a pole whose gradient below the
        # floor (of size y_pred / epsilon) exceeds float16's range:
        # Itakura-Saito, and the I-divergence with y_true inside the log.
        y_true[:, ::7] = 0.0

    def fn(t, p):
        return HALF_CASES[name](ops.cast(t, dtype), ops.cast(p, dtype))

    value, grads = value_and_grads(fn, y_true.astype("float32"), y_pred.astype("float32"))
    assert value.dtype == np.float32
    assert np.all(np.isfinite(value))
    assert all(np.all(np.isfinite(g)) for g in grads)
