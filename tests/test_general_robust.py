import math

import numpy as np
import pytest
from keras import ops

from keras_recon import losses
from tests import references as ref
from tests.backend_utils import assert_training_case
from tests.backend_utils import to_numpy
from tests.backend_utils import value_and_grads

X = np.linspace(-6.0, 6.0, 241).astype("float32")

# Barron's special cases in closed form, with z = (x / c)^2.
CLOSED_FORMS = {
    2.0: lambda z: z / 2,  # L2
    1.0: lambda z: np.sqrt(z + 1) - 1,  # Charbonnier / pseudo-Huber
    0.0: lambda z: np.log(z / 2 + 1),  # Cauchy
    -2.0: lambda z: 2 * z / (z + 4),  # Geman-McClure
    -math.inf: lambda z: 1 - np.exp(-z / 2),  # Welsch
    # Documented saturation: the exponent is capped at 60.
    math.inf: lambda z: np.expm1(np.minimum(z / 2, 60.0)),
}


def rho_tensor_alpha(alpha, scale=1.0):
    # A tensor alpha goes through the all-cases path with `where`.
    return lambda x: losses.robust_rho(x, ops.full(x.shape, alpha), scale)


@pytest.mark.parametrize("alpha", sorted(CLOSED_FORMS))
@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_special_cases_have_their_closed_forms(alpha, scale):
    z = (X.astype(np.float64) / scale) ** 2
    expected = CLOSED_FORMS[alpha](z)
    static = to_numpy(losses.robust_rho(X, alpha, scale))
    dynamic = to_numpy(rho_tensor_alpha(alpha, scale)(X))
    np.testing.assert_allclose(static, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dynamic, expected, rtol=1e-5, atol=1e-7)


def test_alpha_two_is_half_squared_error_loss():
    y_true = np.zeros((2, 3), "float32")
    y_pred = np.array([[0.1, -0.2, 0.3], [1.0, 2.0, -3.0]], "float32")
    value = to_numpy(losses.general_robust(y_true, y_pred, alpha=2.0))
    np.testing.assert_allclose(value, 0.5 * (y_pred**2).sum(axis=1), rtol=1e-6)


@pytest.mark.parametrize("alpha", [-16.0, -5.0, -0.5, 0.3, 1.5, 2.5, 4.0, 16.0])
def test_general_alpha_matches_reference(alpha):
    x = np.linspace(-3, 3, 121).astype("float32")
    for scale in (0.1, 1.0):
        expected = ref.rho(x, alpha, scale)
        np.testing.assert_allclose(
            to_numpy(losses.robust_rho(x, alpha, scale)), expected, rtol=2e-5, atol=1e-7
        )
        np.testing.assert_allclose(
            to_numpy(rho_tensor_alpha(alpha, scale)(x)), expected, rtol=2e-5, atol=1e-7
        )


@pytest.mark.parametrize("center", [0.0, 2.0])
def test_loss_is_continuous_next_to_special_values(center):
    at = to_numpy(losses.robust_rho(X, center, 1.0))
    for delta in (1e-6, -1e-6, 1e-3, -1e-3):
        near = to_numpy(losses.robust_rho(X, center + delta, 1.0))
        np.testing.assert_allclose(near, at, rtol=5 * abs(delta) + 1e-5, atol=1e-6)


@pytest.mark.parametrize("alpha", [-2.0, 0.5, 1.0, 3.0])
def test_loss_is_scale_invariant(alpha):
    x = np.linspace(-2, 2, 41).astype("float32")
    for k in (1e-3, 10.0):
        a = to_numpy(losses.robust_rho(x * k, alpha, 0.7 * k))
        b = to_numpy(losses.robust_rho(x, alpha, 0.7))
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("alpha", [-math.inf, -4.0, 0.0, 1.0, 2.0, 5.0])
def test_loss_is_monotonic_in_abs_x(alpha):
    x = np.linspace(0, 8, 200).astype("float32")
    value = to_numpy(losses.robust_rho(x, alpha, 1.0))
    # Up to two float32 ulps: TensorFlow's expm1 wobbles near -1.
    ulp = np.spacing(np.maximum(np.abs(value[1:]), np.abs(value[:-1])))
    assert np.all(np.diff(value) >= -2 * ulp)


@pytest.mark.parametrize("alpha", [-math.inf, -2.0, 0.0, 0.5, 1.0, 2.0, 3.0])
def test_gradient_matches_finite_differences(alpha):
    x = np.linspace(-2, 2, 81).astype("float32")
    fn = rho_tensor_alpha(alpha, 0.8)
    _, (grad,) = value_and_grads(fn, x)
    numeric = ref.central_difference(lambda v: ref.rho(v, alpha, 0.8), x, 1e-6)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-5)
    _, (static_grad,) = value_and_grads(lambda v: losses.robust_rho(v, alpha, 0.8), x)
    np.testing.assert_allclose(static_grad, numeric, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("alpha", [-3.0, 0.5, 1.5, 4.0])
def test_gradients_in_alpha_and_scale_match_finite_differences(alpha):
    x = np.linspace(-2, 2, 21).astype("float32")
    alphas = np.full_like(x, alpha)
    scales = np.full_like(x, 0.9)
    _, (_, g_alpha, g_scale) = value_and_grads(losses.robust_rho, x, alphas, scales)
    num_alpha = ref.central_difference(lambda a: ref.rho(x, a, 0.9), alpha, 1e-6)
    num_scale = ref.central_difference(lambda c: ref.rho(x, alpha, c), 0.9, 1e-6)
    np.testing.assert_allclose(g_alpha, num_alpha, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(g_scale, num_scale, rtol=1e-3, atol=1e-5)


def test_exact_special_alphas_leak_no_nan_into_gradients():
    x = np.linspace(-5, 5, 11).astype("float32")
    for alpha in (-math.inf, -2.0, 0.0, 1.0, 2.0, math.inf):
        alphas = np.full_like(x, alpha)
        value, grads = value_and_grads(losses.robust_rho, x, alphas, np.ones_like(x))
        assert np.all(np.isfinite(value)), alpha
        for g in grads:
            assert np.all(np.isfinite(g)), alpha


def capped_rho_and_slope(t, alpha, scale):
    """Float64 rho and its derivative in t with the documented cap (the
    exponent saturates at 60, past which the gradient is 0)."""
    t = np.float64(t)
    z = (t / scale) ** 2
    slope_factor = t / scale**2
    if alpha == -math.inf:
        return 1 - np.exp(-z / 2), slope_factor * np.exp(-z / 2)
    if alpha == 0:
        return np.log1p(z / 2), slope_factor / (1 + z / 2)
    b = abs(alpha - 2)
    exponent = alpha / 2 * np.log1p(z / b)
    capped = exponent >= 60.0
    value = b / alpha * np.expm1(np.minimum(exponent, 60.0))
    slope = np.where(capped, 0.0, slope_factor * (z / b + 1) ** (alpha / 2 - 1))
    return value, slope


@pytest.mark.parametrize("sample_reduction", ["sum", "mean"])
@pytest.mark.parametrize("alpha", [-math.inf, -2.0, 0.0, 1e-3, 0.5, 1.0, 3.0, 16.0])
def test_per_sample_gradient_in_y_pred(sample_reduction, alpha):
    # The training case (on eager PyTorch the written-out path): gradient
    # in y_pred only, image-shaped samples, per-sample weights; residuals
    # from 1e-4 (the value's relative precision) to 300 / scale, past the
    # exponent's cap for alpha = 16.
    rng = np.random.default_rng(13)
    shape, scale = (5, 6, 4, 2), 0.5
    y_true = rng.uniform(0, 1, shape).astype("float32")
    residual = rng.choice([-1.0, 1.0], shape) * 10.0 ** rng.uniform(-4, 2.5, shape)
    y_pred = (y_true + residual).astype("float32")
    t = np.float64(y_pred) - np.float64(y_true)
    elementwise, slope = capped_rho_and_slope(t, alpha, scale)
    # (grad_atol: autodiff of Welsch's expm1 form, on the other paths, is
    # exact to float32's epsilon times the largest slope, not relatively.)
    assert_training_case(
        lambda t, p: losses.general_robust(t, p, alpha=alpha, scale=scale, sample_reduction=sample_reduction),
        y_true, y_pred, elementwise, slope, sample_reduction, rtol=1e-5, value_atol=1e-6, grad_atol=1e-6,
    )
