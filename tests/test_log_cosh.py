import importlib
import importlib.util
from pathlib import Path

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
    # The same value up to float32 rounding: a differently fused
    # computation, or the other of the two exact forms (eager vs traced).
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


@pytest.mark.parametrize("form", ["_few_transcendentals", "_few_operations", "_one_exponential"])
def test_eager_and_compiled_forms_both_match_the_reference(form):
    # The loss picks the form by whether it is traced; both must be exact,
    # including tiny arguments (relative precision) and huge ones (no overflow).
    module = importlib.import_module("keras_recon.losses.log_cosh")
    u = np.abs(residuals(seed=3)) * np.float32(100.0)
    edges = np.float32([1e-20, 1e-6, np.nextafter(np.float32(1), np.float32(0)), 1.0, 19.9, 20.0, 20.1, 88.0, 1e8, 3e38])
    u = np.concatenate([u, edges, np.linspace(0, 3, 3001, dtype="float32")])
    value = to_numpy(getattr(module, form)(ops.convert_to_tensor(u)))
    np.testing.assert_allclose(value, ref.log_cosh(u, 1.0), rtol=2e-6, atol=1e-30)


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="PyTorch runs the eager form (torch.compile is not used)")
@pytest.mark.parametrize("a", A_VALUES)
def test_compiled_value_and_gradient_match_the_reference(a):
    # Under jax.jit / tf.function(jit_compile=True) the surrogate takes
    # `_one_exponential` for its value.
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


def test_compiled_polynomials_are_the_fitted_ones():
    # The constants in log_cosh.py are what tools/fit_log_cosh_polynomials.py fits.
    module = importlib.import_module("keras_recon.losses.log_cosh")
    spec = importlib.util.spec_from_file_location(
        "fit_log_cosh_polynomials", Path(__file__).parents[1] / "tools" / "fit_log_cosh_polynomials.py"
    )
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    np.testing.assert_array_equal(np.float32(module._P), tool.fit("P"))
    np.testing.assert_array_equal(np.float32(module._Q), tool.fit("Q"))


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


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="eager TensorFlow's cached XLA kernel")
def test_eager_tensorflow_kernel_is_traced_once_for_every_a():
    # `a` is an argument of the compiled kernel: a sweep over `a` reuses one
    # trace (and XLA program) per input shape, with each value's own result.
    from keras_recon.losses import _common

    rng = np.random.default_rng(5)
    y_true = rng.uniform(size=(3, 7)).astype("float32")
    y_pred = rng.uniform(size=(3, 7)).astype("float32")
    key = ("log_cosh", True, "mean", "float32")
    # Other tests may have traced this kernel for other shapes already.
    before = _common._XLA_KERNELS[key].experimental_get_tracing_count() if key in _common._XLA_KERNELS else 0
    values = [to_numpy(losses.log_cosh(y_true, y_pred, a=a, sample_reduction="mean")) for a in (1.0, 10.0, 100.0)]
    assert _common._XLA_KERNELS[key].experimental_get_tracing_count() - before <= 1
    for a, value in zip((1.0, 10.0, 100.0), values):
        want = np.mean(np.log(np.cosh(a * (y_pred - y_true).astype(np.float64))), axis=1) / a
        np.testing.assert_allclose(value, want, rtol=1e-5)
