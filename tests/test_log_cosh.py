import contextlib
from decimal import Decimal
from decimal import localcontext

import keras
import numpy as np
import pytest
from keras import ops

from keras_recon import losses
from tests import references as ref
from tests.backend_utils import to_numpy
from tests.backend_utils import value_and_grads

A_VALUES = [0.01, 1.0, 100.0, 1e4]


def residuals(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.normal(size=n) * 10.0 ** rng.uniform(-6, 1, n)
    return np.concatenate([t, [0.0, 1.0, -1.0]]).astype("float32")


def elementwise(a, surrogate=True):
    """log_cosh applied elementwise: each residual is its own sample."""
    return lambda y_true, y_pred: losses.log_cosh(
        y_true, y_pred, a=a, surrogate_gradient=surrogate
    )


@pytest.mark.parametrize("a", A_VALUES)
def test_value_matches_numpy_reference(a):
    t = residuals()
    value = to_numpy(losses.log_cosh(np.zeros_like(t), t, a=a))
    np.testing.assert_allclose(value, ref.log_cosh(t, a), rtol=2e-6, atol=1e-30)


def test_value_cannot_overflow_at_huge_arguments():
    # |a t| up to 1e4 * 1e4 = 1e8; cosh overflows float32 above ~89.
    t = np.array([-1e4, -100.0, 1e-3, 100.0, 1e4], "float32")
    value = to_numpy(losses.log_cosh(np.zeros_like(t), t, a=1e4))
    np.testing.assert_allclose(value, np.abs(t) - np.log(2) / 1e4, rtol=1e-6)


def test_limits_of_proposition_1():
    a = 100.0
    small = np.array([1e-4, -3e-4], "float32")
    large = np.array([0.5, -2.0], "float32")
    np.testing.assert_allclose(
        to_numpy(losses.log_cosh(np.zeros(2), small, a=a)), 0.5 * a * small**2, rtol=1e-3
    )
    np.testing.assert_allclose(
        to_numpy(losses.log_cosh(np.zeros(2), large, a=a)),
        np.abs(large) - np.log(2) / a,
        rtol=1e-6,
    )


@pytest.mark.parametrize("a", A_VALUES)
@pytest.mark.parametrize("surrogate", [True, False])
def test_gradient_is_tanh_to_float32_precision(a, surrogate):
    t = residuals()
    y_true = np.zeros_like(t)
    _, (g_true, g_pred) = value_and_grads(elementwise(a, surrogate), y_true, t)
    expected = np.tanh(a * t.astype(np.float64))
    np.testing.assert_allclose(g_pred, expected, rtol=2e-6, atol=2e-7)
    np.testing.assert_allclose(g_true, -expected, rtol=2e-6, atol=2e-7)


@pytest.mark.parametrize("a", A_VALUES)
def test_surrogate_and_autodiff_agree_in_value_and_gradient(a):
    rng = np.random.default_rng(3)
    y_true = rng.uniform(0, 1, (4, 7, 7, 1)).astype("float32")
    y_pred = rng.uniform(0, 1, (4, 7, 7, 1)).astype("float32")
    v1, g1 = value_and_grads(elementwise(a, True), y_true, y_pred)
    v2, g2 = value_and_grads(elementwise(a, False), y_true, y_pred)
    # One function computes the value either way; the surrogate only
    # supplies its gradient as tanh(a t) instead of through autodiff.
    np.testing.assert_allclose(v1, v2, rtol=1e-6, atol=0)
    np.testing.assert_allclose(g1[1], g2[1], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("a", [0.5, 3.0, 100.0])
def test_gradient_matches_finite_differences(a):
    t = np.linspace(-0.3, 0.3, 61).astype("float32")
    _, (_, grad) = value_and_grads(elementwise(a), np.zeros_like(t), t)
    numeric = ref.central_difference(lambda x: ref.log_cosh(x, a), t, 1e-6)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_is_finite_and_computed_in_float32(dtype):
    t = np.array([-60000.0, -3.0, -1e-3, 0.0, 2e-2, 5.0, 60000.0])
    y_pred = ops.cast(t, dtype)
    y_true = ops.zeros_like(y_pred)
    for a in [1.0, 100.0, 1e4]:
        value = losses.log_cosh(y_true, y_pred, a=a)
        assert ops.convert_to_numpy(value).dtype == np.float32
        rounded = to_numpy(ops.cast(y_pred, "float32"))
        np.testing.assert_allclose(
            to_numpy(value), ref.log_cosh(rounded, a), rtol=1e-5
        )


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="no compiled form on PyTorch (torch.compile is not used)")
@pytest.mark.parametrize("a", A_VALUES)
def test_compiled_value_and_gradient_match_the_reference(a):
    # Under jax.jit / tf.function(jit_compile=True), where XLA may fuse and
    # rearrange the elementwise operations.
    t = np.concatenate([residuals(seed=5), np.float32([0.999 / a, 1.001 / a, 1e30])])
    y_true = np.zeros_like(t)

    def step(y_true, y_pred):
        return losses.log_cosh(y_true, y_pred, a=a)

    if keras.backend.backend() == "jax":
        import jax

        value, grad = jax.jit(jax.vmap(jax.value_and_grad(step, argnums=1)))(y_true, t)
    else:
        import tensorflow as tf

        @tf.function(jit_compile=True)
        def compiled(y_true, y_pred):
            with tf.GradientTape() as tape:
                tape.watch(y_pred)
                value = step(y_true, y_pred)
            return value, tape.gradient(value, y_pred)

        value, grad = compiled(tf.constant(y_true), tf.constant(t))
    np.testing.assert_allclose(to_numpy(value), ref.log_cosh(t, a), rtol=2e-6, atol=1e-30)
    np.testing.assert_allclose(to_numpy(grad), np.tanh(a * t.astype(np.float64)), rtol=2e-6, atol=2e-7)


@pytest.mark.parametrize("sample_reduction", ["sum", "mean"])
@pytest.mark.parametrize("a", [1.0, 100.0, 1e4])
def test_per_sample_value_and_weighted_gradient(sample_reduction, a):
    # Image-shaped samples, residuals from 1e-7 to past the cap (|a t| > 20),
    # and a different weight per sample: the eager path reduces inside its
    # custom gradient, so the per-sample upstream gradient must reach every
    # pixel of its own sample (and be divided by the pixel count for "mean").
    rng = np.random.default_rng(7)
    shape = (5, 6, 4, 2)
    t = (rng.normal(size=shape) * 10.0 ** rng.uniform(-7, 0, shape)).astype("float32")
    y_true = rng.uniform(0, 1, shape).astype("float32")
    y_pred = (y_true + t).astype("float32")
    weights = np.float32([1.0, -2.0, 0.5, 3.0, 0.0])
    before = y_pred.copy()

    def weighted(y_true, y_pred):
        per_sample = losses.log_cosh(y_true, y_pred, a=a, sample_reduction=sample_reduction)
        return per_sample * ops.convert_to_tensor(weights)

    value, (g_true, g_pred) = value_and_grads(weighted, y_true, y_pred)
    residual = y_pred.astype(np.float64) - y_true
    elementwise = ref.log_cosh(residual, a).reshape(5, -1)
    reduce = np.sum if sample_reduction == "sum" else np.mean
    np.testing.assert_allclose(value, reduce(elementwise, axis=1) * weights, rtol=3e-6, atol=1e-30)
    count = 1 if sample_reduction == "sum" else 48
    expected = np.tanh(a * residual) * weights[:, None, None, None] / count
    np.testing.assert_allclose(g_pred, expected, rtol=2e-6, atol=2e-7 / count)
    np.testing.assert_allclose(g_true, -expected, rtol=2e-6, atol=2e-7 / count)
    np.testing.assert_array_equal(y_pred, before)


EPS = {"float32": float(np.finfo(np.float32).eps), "float64": float(np.finfo(np.float64).eps)}
COMPILED = [False] if keras.backend.backend() == "torch" else [False, True]


@contextlib.contextmanager
def computing_in(dtype):
    """JAX holds float64 only with 64-bit types enabled (off by default)."""
    if dtype == "float64" and keras.backend.backend() == "jax":
        import jax

        with jax.enable_x64(True):
            yield
    else:
        yield


def exact_log_cosh_and_tanh(t, a):
    """`(1/a) log cosh(a t)` and `tanh(a t)` of the binary values `t` and
    `a`, correctly rounded to float64: 200-digit decimal arithmetic, with
    `log cosh u = u + log((1 + e^-2u) / 2)` (its cancellation at tiny `u`
    is far inside 200 digits for `u >= 1e-60`; `e^-2u` underflows to 0 at
    huge `u`, leaving `u - log 2`, which stays exact)."""
    values, slopes = [], []
    with localcontext() as context:
        context.prec = 200
        for x in np.asarray(t, np.float64).ravel():
            u = abs(Decimal(float(a)) * Decimal(float(x)))
            e = (-2 * u).exp()
            values.append(float((u + ((1 + e) / 2).ln()) / Decimal(float(a))))
            slopes.append(float(np.copysign(float((1 - e) / (1 + e)), x)))
    return np.reshape(values, np.shape(t)), np.reshape(slopes, np.shape(t))


def log_grid(a, dtype):
    """Residuals whose `u = a |t|` spans 1e-30 to 1e30, both signs, 0 and
    +-2; only normal numbers (XLA flushes subnormal inputs to 0)."""
    u = np.logspace(-30, 30, 601)
    t = (u / float(np.asarray(a, dtype))).astype(dtype)
    t = np.concatenate([t, -t[::7], [0.0, 2.0, -2.0]]).astype(dtype)
    return t[(t == 0) | (np.abs(t) >= np.finfo(dtype).tiny)]


@pytest.mark.parametrize("compiled", COMPILED)
@pytest.mark.parametrize("surrogate", [True, False])
@pytest.mark.parametrize("a", [0.01, 1.0, 100.0, 3e38])
def test_float64_value_and_gradient_to_float64_precision(a, surrogate, compiled):
    with computing_in("float64"):
        t = log_grid(a, "float64")
        value, (g_true, g_pred) = value_and_grads(
            elementwise(a, surrogate), np.zeros_like(t), t, compiled=compiled
        )
    assert value.dtype == g_pred.dtype == g_true.dtype == np.float64
    want, slope = exact_log_cosh_and_tanh(t, a)
    np.testing.assert_allclose(value, want, rtol=1e-14, atol=0)
    np.testing.assert_allclose(g_pred, slope, rtol=1e-14, atol=0)
    np.testing.assert_allclose(g_true, -slope, rtol=1e-14, atol=0)


@pytest.mark.parametrize("compiled", COMPILED)
@pytest.mark.parametrize("surrogate", [True, False])
@pytest.mark.parametrize("a", [0.01, 1.0, 100.0, 3e38])
def test_float32_value_and_gradient_within_a_few_ulps(a, surrogate, compiled):
    t = log_grid(a, "float32")
    value, (_, g_pred) = value_and_grads(
        elementwise(a, surrogate), np.zeros_like(t), t, compiled=compiled
    )
    assert value.dtype == np.float32
    want, slope = exact_log_cosh_and_tanh(t, float(np.float32(a)))
    # Relative precision holds above the subnormal range
    # (docs/guides/numerics.md); the smallest values of the grid, down to a
    # t^2 / 2 with u = 1e-30, underflow in float32.
    kept = want >= 1e-30
    assert np.all(np.isfinite(value)) and np.all(value[~kept] < 1e-30)
    np.testing.assert_allclose(value[kept], want[kept], rtol=8 * EPS["float32"], atol=0)
    # Autodiff passes the gradient through `1 / a`, subnormal for a = 3e38:
    # tanh's distance from 1, 2 exp(-2u), is lost (the guide's bound).
    subnormal = not surrogate and 1.0 / a < np.finfo(np.float32).tiny
    atol = 2.0 * np.exp(-2.0 * np.abs(np.float64(a) * t)) if subnormal else 0.0
    excess = np.abs(g_pred - slope) - 8 * EPS["float32"] * np.abs(slope) - atol
    assert np.all(excess <= 0), (t[excess > 0], g_pred[excess > 0], slope[excess > 0])


@pytest.mark.parametrize("compiled", COMPILED)
@pytest.mark.parametrize("surrogate", [True, False])
@pytest.mark.parametrize("dtype, a", [("float32", 3e38), ("float64", 1e308)])
def test_value_and_gradient_stay_exact_where_a_t_overflows(dtype, a, surrogate, compiled):
    # a * 2 overflows to infinity in the dtype; a * 1e-30 does not.
    with computing_in(dtype):
        t = np.array([[2.0, -2.0, 1e-30, -1e-30, 1e30]], dtype)
        value, (_, g_pred) = value_and_grads(
            lambda y_true, y_pred: losses.log_cosh(y_true, y_pred, a=a, surrogate_gradient=surrogate),
            np.zeros_like(t), t, compiled=compiled,
        )
    want, slope = exact_log_cosh_and_tanh(t, float(np.asarray(a, dtype)))
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(g_pred))
    np.testing.assert_allclose(value, want.sum(axis=1), rtol=4 * EPS[dtype], atol=0)
    np.testing.assert_array_equal(g_pred, slope)  # +-1


def test_a_must_be_a_normal_number_of_the_computation_dtype():
    y_true, y_pred = np.zeros((1, 2), "float32"), np.full((1, 2), 2.0, "float32")
    for a in (1e39, 1e-39):
        with pytest.raises(ValueError, match="normal float32 number"):
            losses.log_cosh(y_true, y_pred, a=a)
    with pytest.raises(ValueError, match="normal float32 number"):
        losses.log_cosh(y_true.astype("float16"), y_pred.astype("float16"), a=1e39)
    with computing_in("float64"):
        value = to_numpy(losses.log_cosh(y_true.astype("float64"), y_pred.astype("float64"), a=1e39))
    np.testing.assert_allclose(value, [4.0 - 2 * np.log(2) / 1e39], rtol=1e-15)


def test_a_set_after_construction_is_the_one_used_and_saved():
    y_true, y_pred = np.zeros((2, 3), "float32"), np.full((2, 3), 0.05, "float32")
    loss = losses.LogCosh(a=1.0)
    loss.a = 100.0
    expected = float(to_numpy(losses.LogCosh(a=100.0)(y_true, y_pred)))
    assert float(to_numpy(loss(y_true, y_pred))) == pytest.approx(expected, rel=1e-6)
    assert loss.get_config()["a"] == 100.0
