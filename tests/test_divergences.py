import numpy as np
import pytest

from keras_recon import losses
from tests import references as ref
from tests.backend_utils import BACKEND
from tests.backend_utils import assert_training_case
from tests.backend_utils import to_numpy
from tests.backend_utils import value_and_grads


def positive_pairs(n=500, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.uniform(0.05, 2.0, n).astype("float32")
    x = rng.uniform(0.05, 2.0, n).astype("float32")
    return y, x


def test_i_divergence_directions_match_the_papers_equations():
    y, x = positive_pairs()
    e_i1 = to_numpy(losses.i_divergence(y, x, direction=1))
    e_i2 = to_numpy(losses.i_divergence(y, x, direction=2))
    # Haruguchi's thesis, eq. 33: x_hat log(x_hat/x) - x_hat + x; eq. 34 the reverse.
    np.testing.assert_allclose(e_i1, x * np.log(x / y) - x + y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(e_i2, y * np.log(y / x) - y + x, rtol=1e-5, atol=1e-6)


def test_i_divergence_at_zeros_uses_the_documented_continuation():
    eps = 1e-7
    y_true = np.array([0.0, 0.0, 0.5, 0.0], "float32")
    y_pred = np.array([0.0, 0.3, 0.0, 1e-9], "float32")
    e_i2 = to_numpy(losses.i_divergence(y_true, y_pred, direction=2))
    e_i1 = to_numpy(losses.i_divergence(y_true, y_pred, direction=1))
    # Zero where equal; 0 log 0 = 0 up to eps / 2; log continued by its
    # tangent below eps: at x = 0, y log(y / eps); both below the floor,
    # (y - x)**2 / (2 eps).
    np.testing.assert_allclose(
        e_i2, [0.0, 0.3 - eps / 2, 0.5 * np.log(0.5 / eps), 1e-18 / (2 * eps)], rtol=1e-5
    )
    np.testing.assert_allclose(
        e_i1, [0.0, 0.3 * np.log(0.3 / eps), 0.5 - eps / 2, 1e-18 / (2 * eps)], rtol=1e-5
    )
    np.testing.assert_allclose(e_i1, ref.continued_beta_divergence(y_pred, y_true, 1.0), rtol=1e-5, atol=1e-15)
    np.testing.assert_allclose(e_i2, ref.continued_beta_divergence(y_true, y_pred, 1.0), rtol=1e-5, atol=1e-15)


@pytest.mark.parametrize("direction", [1, 2])
def test_i_divergence_gradient_finite_at_zeros(direction):
    y_true = np.array([0.0, 0.0, 0.5, 1.0], "float32")
    y_pred = np.array([0.0, 0.3, 0.0, 1.0], "float32")
    value, grads = value_and_grads(
        lambda t, p: losses.i_divergence(t, p, direction=direction), y_true, y_pred
    )
    assert np.all(np.isfinite(value))
    for g in grads:
        assert np.all(np.isfinite(g))


@pytest.mark.parametrize("direction", [1, 2])
def test_i_divergence_gradient_matches_finite_differences(direction):
    y, x = positive_pairs(100)
    _, (_, grad) = value_and_grads(
        lambda t, p: losses.i_divergence(t, p, direction=direction), y, x
    )
    if direction == 1:
        f = lambda p: ref.generalized_kl(p, y)  # noqa: E731
    else:
        f = lambda p: ref.generalized_kl(y, p)  # noqa: E731
    np.testing.assert_allclose(
        grad, ref.central_difference(f, x, 1e-6), rtol=1e-4, atol=1e-5
    )



def training_images(seed, with_floor):
    """(5, 6, 4, 2) non-negative pairs as in training: exact zeros in
    y_true and, with_floor, zeros and a value below epsilon in y_pred."""
    rng = np.random.default_rng(seed)
    shape = (5, 6, 4, 2)
    y_true = rng.uniform(0, 1, shape).astype("float32")
    y_true[rng.uniform(size=shape) < 0.3] = 0.0
    y_pred = rng.uniform(0.01, 1, shape).astype("float32")
    if with_floor:
        y_pred[rng.uniform(size=shape) < 0.2] = 0.0
        y_pred[0, 0, 0, :] = 1e-9
    return y_true, y_pred


@pytest.mark.parametrize("sample_reduction", ["sum", "mean"])
@pytest.mark.parametrize("direction", [1, 2])
@pytest.mark.parametrize("with_floor", [False, True])
def test_i_divergence_per_sample_gradient_in_y_pred(sample_reduction, direction, with_floor):
    # The training case: a gradient in y_pred only (on eager PyTorch the
    # written-out gradient path), image-shaped samples, a different weight
    # per sample, exact zeros in y_true and, with_floor, values of y_pred at
    # or below epsilon, where the divergence is continued.
    eps = 1e-7
    y_true, y_pred = training_images(11, with_floor)
    if direction == 1:
        elementwise = ref.continued_beta_divergence(y_pred, y_true, 1.0, eps)
        slope = continued_log(y_pred, eps) - continued_log(y_true, eps)
    else:
        elementwise = ref.continued_beta_divergence(y_true, y_pred, 1.0, eps)
        slope = (y_pred - y_true) / np.maximum(y_pred, eps)
    assert_training_case(
        lambda t, p: losses.i_divergence(t, p, direction=direction, sample_reduction=sample_reduction),
        y_true, y_pred, elementwise, slope, sample_reduction, rtol=2e-5, value_atol=1e-6, grad_atol=1e-6,
    )


def continued_log(t, eps):
    """log continued by its tangent below eps, in float64."""
    t = np.float64(t)
    return np.where(t >= eps, np.log(np.maximum(t, eps)), np.log(eps) + (t - eps) / eps)


def continued_beta_divergence(y, x, beta, eps):
    """The documented continuation below eps and its derivative in x,
    `max(x, eps)**(beta - 2) (x - y)`, in float64."""
    y, x = np.float64(y), np.float64(x)
    return ref.continued_beta_divergence(y, x, beta, eps), np.maximum(x, eps) ** (beta - 2) * (x - y)


@pytest.mark.parametrize("sample_reduction", ["sum", "mean"])
@pytest.mark.parametrize("beta", [-1.0, 0.0, 0.1, 0.5, 0.7, 0.9, 1.5, 3.0])
@pytest.mark.parametrize("with_floor", [False, True])
def test_beta_divergence_per_sample_gradient_in_y_pred(sample_reduction, beta, with_floor):
    # The training case, in each of the value's forms (expm1 of either
    # power, Itakura-Saito, the closed form at 0.5), with exact zeros in
    # y_true, per-sample weights and, with_floor, zeros and values below
    # epsilon in y_pred.
    eps = 1e-7
    y_true, y_pred = training_images(12, with_floor)
    if with_floor:
        y_pred[1, 0, 0, 0] = y_true[1, 0, 0, 0] = 0.0
    elementwise, slope = continued_beta_divergence(y_true, y_pred, beta, eps)
    assert_training_case(
        lambda t, p: losses.beta_divergence(t, p, beta=beta, sample_reduction=sample_reduction),
        y_true, y_pred, elementwise, slope, sample_reduction, rtol=2e-5, value_atol=1e-5, grad_atol=1e-6,
    )


@pytest.mark.parametrize("beta", [-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0])
def test_beta_divergence_matches_reference(beta):
    y, x = positive_pairs()
    value = to_numpy(losses.beta_divergence(y, x, beta=beta))
    np.testing.assert_allclose(value, ref.beta_divergence(y, x, beta), rtol=2e-4, atol=2e-6)


def test_beta_divergence_special_members():
    y, x = positive_pairs()
    np.testing.assert_allclose(
        to_numpy(losses.beta_divergence(y, x, beta=2.0)), 0.5 * (y - x) ** 2, rtol=1e-6
    )
    np.testing.assert_allclose(
        to_numpy(losses.beta_divergence(y, x, beta=1.0)),
        to_numpy(losses.i_divergence(y, x, direction=2)),
        rtol=1e-6,
    )
    itakura_saito = y / x - np.log(y / x) - 1
    np.testing.assert_allclose(
        to_numpy(losses.beta_divergence(y, x, beta=0.0)), itakura_saito, rtol=1e-4, atol=1e-6
    )


@pytest.mark.parametrize("delta", [1e-2, 1e-4, 3e-6])
def test_beta_half_keeps_its_precision_where_y_is_near_x(delta):
    # beta = 0.5 is 2 (sqrt(y) - sqrt(x))**2 / sqrt(x), of size delta**2 x
    # where y = x (1 + delta); the roots' difference must not cancel.
    x = np.random.default_rng(1).uniform(0.05, 2.0, 300).astype("float32")
    y = (x * (1 + delta)).astype("float32")
    y64, x64 = y.astype(np.float64), x.astype(np.float64)
    exact = 2 * ((y64 - x64) / (np.sqrt(y64) + np.sqrt(x64))) ** 2 / np.sqrt(x64)
    np.testing.assert_allclose(to_numpy(losses.beta_divergence(y, x, beta=0.5)), exact, rtol=1e-5)


@pytest.mark.parametrize("center", [0.0, 0.5, 1.0, 2.0])
def test_beta_divergence_is_continuous_across_special_values(center):
    y, x = positive_pairs()
    at = to_numpy(losses.beta_divergence(y, x, beta=center))
    for delta in (1e-4, -1e-4):
        near = to_numpy(losses.beta_divergence(y, x, beta=center + delta))
        # The divergence moves O(delta) with beta; precision loss would be
        # far larger (1/delta = 1e4 times float32 epsilon).
        np.testing.assert_allclose(near, at, rtol=2e-3, atol=1e-5)
        exact = ref.beta_divergence(y, x, center + delta)
        np.testing.assert_allclose(near, exact, rtol=2e-4, atol=2e-6)


@pytest.mark.parametrize("beta", [-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0])
def test_beta_divergence_gradient_matches_finite_differences(beta):
    y, x = positive_pairs(100)
    _, (_, grad) = value_and_grads(
        lambda t, p: losses.beta_divergence(t, p, beta=beta), y, x
    )
    numeric = ref.central_difference(lambda p: ref.beta_divergence(y, p, beta), x, 1e-6)
    np.testing.assert_allclose(grad, numeric, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("beta", [-1.0, 0.0, 0.5, 1.0, 2.0, 3.0])
def test_beta_divergence_finite_at_zeros(beta):
    y_true = np.array([0.0, 0.0, 0.5, 1.0], "float32")
    y_pred = np.array([0.0, 0.3, 0.0, 1.0], "float32")
    value, grads = value_and_grads(
        lambda t, p: losses.beta_divergence(t, p, beta=beta), y_true, y_pred
    )
    assert np.all(np.isfinite(value))
    assert all(np.all(np.isfinite(g)) for g in grads)
    # Where beta > 0 and y = 0 the divergence is x**beta / beta, less the
    # continuation's documented eps**beta (1/beta - 1/2).
    if beta > 0:
        offset = 1e-7**beta * (1 / beta - 0.5)
        np.testing.assert_allclose(value[1], 0.3**beta / beta - offset, rtol=1e-5)


def test_l2_and_l1_gradients_match_finite_differences():
    rng = np.random.default_rng(5)
    y_true = rng.uniform(size=200).astype("float32")
    # Keep residuals away from 0, where L1 has no derivative.
    y_pred = (y_true + rng.choice([-1, 1], 200) * rng.uniform(0.01, 1, 200)).astype("float32")
    from keras_recon import losses as L

    for fn, reference in ((L.squared_error, ref.squared_error), (L.absolute_error, ref.absolute_error)):
        _, (g_true, g_pred) = value_and_grads(fn, y_true, y_pred)
        numeric = ref.central_difference(lambda p: reference(p - y_true), y_pred, 1e-6)
        np.testing.assert_allclose(g_pred, numeric, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(g_true, -numeric, rtol=1e-4, atol=1e-5)


FLOOR_CASES = {
    "i_divergence_2": (lambda t, p: losses.i_divergence(t, p, direction=2), 1.0),
    "beta_-1": (lambda t, p: losses.beta_divergence(t, p, beta=-1.0), -1.0),
    "beta_0": (lambda t, p: losses.beta_divergence(t, p, beta=0.0), 0.0),
    "beta_0.5": (lambda t, p: losses.beta_divergence(t, p, beta=0.5), 0.5),
    "beta_0.7": (lambda t, p: losses.beta_divergence(t, p, beta=0.7), 0.7),
    "beta_1": (lambda t, p: losses.beta_divergence(t, p, beta=1.0), 1.0),
    "beta_1.5": (lambda t, p: losses.beta_divergence(t, p, beta=1.5), 1.5),
}
COMPILED = [False] if BACKEND == "torch" else [False, True]


@pytest.mark.parametrize("compiled", COMPILED)
@pytest.mark.parametrize("name", sorted(FLOOR_CASES))
def test_gradient_below_the_floor_moves_the_prediction_toward_the_target(name, compiled):
    # y_pred at 0 and below epsilon, y_true = 0.5: descent must raise y_pred.
    # The continuation's slope there is eps**(beta - 2) (y_pred - y_true).
    fn, beta = FLOOR_CASES[name]
    eps = 1e-7
    y_pred = np.array([0.0, 1e-9, 5e-8, 0.0, 1e-9], "float32")
    y_true = np.array([0.5, 0.5, 0.5, 1.0, 2e-7], "float32")
    _, (_, grad) = value_and_grads(fn, y_true, y_pred, compiled=compiled)
    expected = eps ** (beta - 2) * (y_pred.astype(np.float64) - y_true)
    assert np.all(np.isfinite(grad)) and np.all(grad < 0)
    np.testing.assert_allclose(grad, expected, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(FLOOR_CASES))
def test_gradient_is_continuous_across_the_floor(name):
    fn, _ = FLOOR_CASES[name]
    eps = 1e-7
    y_pred = np.array([eps * (1 - 1e-3), eps * (1 + 1e-3)], "float32")
    y_true = np.array([0.5, 0.5], "float32")
    _, (grad_true, grad_pred) = value_and_grads(fn, y_true, y_pred)
    np.testing.assert_allclose(grad_pred[0], grad_pred[1], rtol=5e-3)
    np.testing.assert_allclose(grad_true[0], grad_true[1], rtol=5e-3)


def test_i_divergence_direction_1_pushes_a_floored_prediction_up():
    y_pred = np.array([0.0, 1e-9, 5e-8], "float32")
    y_true = np.array([0.5, 0.5, 0.5], "float32")
    _, (_, grad) = value_and_grads(lambda t, p: losses.i_divergence(t, p, direction=1), y_true, y_pred)
    np.testing.assert_allclose(grad, continued_log(y_pred, 1e-7) - np.log(0.5), rtol=1e-5)
    assert np.all(grad < 0)


@pytest.mark.parametrize("name", sorted(FLOOR_CASES))
def test_equal_inputs_give_exactly_zero_below_the_floor_too(name):
    fn, _ = FLOOR_CASES[name]
    y = np.array([[0.0, 1e-9, 5e-8, 1e-7, 3e-7, 0.5, 1.0]], "float32")
    np.testing.assert_array_equal(to_numpy(fn(y, y)), [0.0])
