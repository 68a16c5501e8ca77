import math

import keras
import numpy as np
import pytest
import scipy.integrate
import scipy.stats
from keras import ops

from keras_recon.likelihoods import AdaptiveRobust
from keras_recon.likelihoods import log_partition
from keras_recon.likelihoods import sample_general
from keras_recon.losses import robust_rho
from tests import references as ref
from tests.backend_utils import to_numpy
from tests.backend_utils import value_and_grads

# Known values of Z(alpha) (Barron 2019, and closed forms at 0 and 2).
KNOWN_Z = {
    0.0: math.pi * math.sqrt(2),
    0.5: 3.638993131,
    1.0: 3.272306973,
    2.0: math.sqrt(2 * math.pi),
    3.0: 2.153202857,
    4.0: 2.101960916,
}


def reference_log_z(alpha):
    """An independent quadrature of exp(-rho), written here."""
    f = lambda x: np.exp(-ref.rho(x, alpha, 1.0))  # noqa: E731
    with np.errstate(over="ignore"):
        value = sum(
            scipy.integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-12, limit=400)[0]
            for lo, hi in ((0, 1), (1, 10), (10, np.inf))
        )
    return math.log(2 * value)


@pytest.mark.parametrize("alpha", sorted(KNOWN_Z))
def test_log_partition_known_values_to_1e_6(alpha):
    got = float(to_numpy(log_partition(np.array(alpha, "float32"))))
    assert abs(got - math.log(KNOWN_Z[alpha])) < 1e-6


def test_log_partition_at_knot_midpoints_and_infinity():
    knots = 8192
    u = (np.arange(0, knots, 97) + 0.5) / knots  # 85 midpoints across [0, inf)
    alphas = u / (1 - u)
    got = to_numpy(log_partition(alphas.astype("float32")))
    expected = np.array([reference_log_z(float(np.float32(a))) for a in alphas])
    assert np.abs(got - expected).max() < 1e-6
    inf = float(to_numpy(log_partition(np.array(np.inf, "float32"))))
    assert inf == pytest.approx(0.70526025442, abs=1e-7)


def test_log_partition_gradient_is_finite_and_matches_differences():
    alphas = np.array([0.0, 0.3, 1.0, 1.7, 2.0, 2.5, 5.0, 50.0, np.inf], "float32")
    _, (grad,) = value_and_grads(log_partition, alphas)
    assert np.all(np.isfinite(grad))
    for a, g in zip(alphas[[1, 2, 3, 5, 6]], grad[[1, 2, 3, 5, 6]]):
        h = 1e-3
        numeric = (reference_log_z(a + h) - reference_log_z(a - h)) / (2 * h)
        assert g == pytest.approx(numeric, rel=2e-3, abs=2e-4)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 8.0, 16.0])
def test_density_integrates_to_one(alpha):
    scale = 0.7
    log_z = float(to_numpy(log_partition(np.array(alpha, "float32"))))
    density = lambda x: np.exp(-ref.rho(x, alpha, scale) - math.log(scale) - log_z)  # noqa: E731
    with np.errstate(over="ignore"):
        total = 2 * sum(
            scipy.integrate.quad(density, lo, hi, limit=400)[0] for lo, hi in ((0, 1), (1, 20), (20, np.inf))
        )
    assert abs(total - 1) < 1e-4


def fixed(alpha, scale):
    return AdaptiveRobust(alpha_lo=alpha, alpha_hi=alpha, alpha_init=alpha,
                          scale_lo=scale, scale_init=scale, per_element=False)


@pytest.mark.parametrize("scale", [0.3, 1.0])
def test_nll_is_normal_at_two_and_cauchy_at_zero(scale):
    rng = np.random.default_rng(0)
    y_true = rng.uniform(size=(3, 10)).astype("float32")
    y_pred = (y_true + rng.normal(scale=0.5, size=(3, 10))).astype("float32")
    t = (y_pred - y_true).astype(np.float64)
    normal = -scipy.stats.norm.logpdf(t, scale=scale).sum(1)
    cauchy = -scipy.stats.cauchy.logpdf(t, scale=scale * math.sqrt(2)).sum(1)
    np.testing.assert_allclose(to_numpy(fixed(2.0, scale)(y_true, y_pred)), normal, rtol=1e-5)
    np.testing.assert_allclose(to_numpy(fixed(0.0, scale)(y_true, y_pred)), cauchy, rtol=1e-5)


def test_nll_and_every_gradient_finite_over_the_parameter_range():
    layer = AdaptiveRobust(alpha_lo=0.0, alpha_hi=16.0, scale_lo=1e-5)
    rng = np.random.default_rng(1)
    y_true = np.zeros((50, 200), "float32")
    layer.build(y_true.shape)
    # Latents from saturated to saturated: alpha over [0, 16], scales 1e-5 .. 1e3.
    layer.alpha_latent.assign(rng.uniform(-30, 30, (200,)).astype("float32"))
    layer.scale_latent.assign(rng.uniform(-30, 7, (200,)).astype("float32"))
    y_pred = (rng.choice([-1, 1], (50, 200)) * 10.0 ** rng.uniform(-6, 3, (50, 200))).astype("float32")

    value, (grad,) = value_and_grads(lambda p: layer(y_true, p), y_pred)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
    # Gradients in the latents: the layer's maps, written as a function.
    def stateless(alpha_latent, scale_latent):
        alpha = 16.0 * ops.sigmoid(alpha_latent)
        scale = 1e-5 + ops.softplus(scale_latent)
        a = alpha * ops.ones_like(y_pred)
        return ops.sum(robust_rho(y_pred - y_true, a, scale) + ops.log(scale) + log_partition(a), axis=1)

    value, grads = value_and_grads(stateless, to_numpy(layer.alpha_latent), to_numpy(layer.scale_latent))
    assert np.all(np.isfinite(value))
    assert all(np.all(np.isfinite(g)) for g in grads)


@pytest.mark.parametrize("bounds", [(0.001, 1.999), (0.0, 3.0), (0.5, 1.5)])
def test_nll_skipping_special_cases_outside_the_range_equals_the_full_rho(bounds):
    # The layer builds rho's special-value cases only for values inside its
    # alpha range; the result must be the full case analysis's.
    layer = AdaptiveRobust(alpha_lo=bounds[0], alpha_hi=bounds[1])
    rng = np.random.default_rng(2)
    y_true = rng.uniform(size=(6, 40)).astype("float32")
    y_pred = (y_true + rng.normal(scale=0.3, size=(6, 40))).astype("float32")
    layer.build(y_true.shape)
    latent = rng.uniform(-4, 4, (40,)).astype("float32")
    if bounds == (0.0, 3.0):
        latent[:2] = [-200.0, -200.0]  # sigmoid rounds to 0: alpha exactly 0
    layer.alpha_latent.assign(latent)
    alpha, scale = to_numpy(layer.alpha()), to_numpy(layer.scale())
    full = ops.sum(robust_rho(y_pred - y_true, alpha, scale) + ops.log(scale) + log_partition(alpha), axis=1)
    np.testing.assert_allclose(to_numpy(layer(y_true, y_pred)), to_numpy(full), rtol=1e-6)
    if bounds == (0.0, 3.0):
        assert alpha[0] == 0.0


class FitDistribution(keras.Model):
    """Fits one shared alpha and scale to samples by maximum likelihood."""

    def __init__(self):
        super().__init__()
        self.likelihood = AdaptiveRobust(alpha_lo=0.0, alpha_hi=3.0, per_element=False)

    def build(self, input_shape):
        self.likelihood.build(input_shape)
        self.built = True

    def call(self, x):
        return ops.zeros_like(x)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return ops.mean(self.likelihood(x, y_pred))


@pytest.mark.parametrize("alpha", [0.5, 1.0, 1.5])
def test_fitting_samples_recovers_alpha_and_scale(alpha):
    scale = 0.5
    x = sample_general(alpha, scale, 20000, seed=int(alpha * 10)).astype("float32")[:, None]
    keras.utils.set_random_seed(0)
    model = FitDistribution()
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    model.fit(x, batch_size=2000, epochs=30, verbose=0)
    fitted_alpha = float(to_numpy(model.likelihood.alpha()))
    fitted_scale = float(to_numpy(model.likelihood.scale()))
    assert fitted_alpha == pytest.approx(alpha, abs=0.05)
    assert fitted_scale == pytest.approx(scale, abs=0.05)


def test_sampler_matches_the_density():
    x = sample_general(1.0, 1.0, 20000, seed=3)
    log_z = float(to_numpy(log_partition(np.array(1.0, "float32"))))
    cdf = lambda v: scipy.integrate.quad(lambda s: np.exp(-ref.rho(s, 1.0, 1.0) - log_z), -np.inf, v)[0]  # noqa: E731
    grid = np.array([-3.0, -1.0, 0.0, 0.5, 2.0])
    empirical = np.array([(x <= g).mean() for g in grid])
    np.testing.assert_allclose(empirical, [cdf(g) for g in grid], atol=0.015)


def test_bad_ranges_are_refused():
    with pytest.raises(ValueError, match="alpha_lo"):
        AdaptiveRobust(alpha_lo=2.0, alpha_hi=1.0)
    with pytest.raises(ValueError, match="scale_lo"):
        AdaptiveRobust(scale_lo=2.0, scale_init=1.0)
    with pytest.raises(ValueError, match="alpha"):
        sample_general(2.5)


from keras_recon.likelihoods.representations import dct2  # noqa: E402
from keras_recon.likelihoods.representations import represent  # noqa: E402
from keras_recon.likelihoods.representations import rgb_to_yuv  # noqa: E402
from keras_recon.likelihoods.representations import wavelet_cdf97  # noqa: E402


def jacobian(transform, shape):
    """The matrix of a linear transform, column by column."""
    n = int(np.prod(shape))
    basis = np.eye(n, dtype="float32").reshape((n,) + shape)
    return to_numpy(transform(basis)).reshape(n, n).astype(np.float64)


@pytest.mark.parametrize(
    "name,transform",
    [
        ("yuv", rgb_to_yuv),
        ("dct", dct2),
        ("wavelet", wavelet_cdf97),
        ("dct+yuv", lambda x: represent(x, "dct", "yuv")),
        ("wavelet+yuv", lambda x: represent(x, "wavelet", "yuv")),
    ],
)
def test_representations_have_jacobian_determinant_one(name, transform):
    sign, logdet = np.linalg.slogdet(jacobian(transform, (8, 8, 3)))
    assert abs(logdet) < 1e-4, name


def test_dct_is_orthonormal_and_wavelet_separates_frequencies():
    j = jacobian(dct2, (8, 8, 1))
    np.testing.assert_allclose(j @ j.T, np.eye(64), atol=1e-5)
    smooth = np.ones((1, 16, 16, 1), "float32")
    coefficients = to_numpy(wavelet_cdf97(smooth))
    # A constant image puts (almost) all its energy in the coarsest band.
    assert np.abs(coefficients[0, 2:, 2:, 0]).max() < 1e-4


def test_adaptive_likelihood_in_dct_and_wavelet_space_trains():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).uniform(size=(8, 8, 8, 3)).astype("float32")
    for representation in ("dct", "wavelet"):
        layer = AdaptiveRobust(representation=representation, color="yuv")
        value = to_numpy(layer(x, x * 0.9))
        assert value.shape == (8,) and np.all(np.isfinite(value))
    with pytest.raises(ValueError, match="representation"):
        AdaptiveRobust(representation="fourier")


def gradient_test_layer(shape, bounds, fixed, per_element):
    """The layer of the gradient tests below: alpha in `bounds`
    with both latents, or with `fixed` "alpha" (alpha_hi = alpha_lo),
    "scale" (a scale without latent) or "frozen" (latents, not trainable)."""
    alpha_hi = bounds[0] if fixed == "alpha" else bounds[1]
    scale_lo, scale_init = (0.3, 0.3) if fixed == "scale" else (1e-3, 1.0)
    layer = AdaptiveRobust(alpha_lo=bounds[0], alpha_hi=alpha_hi, scale_lo=scale_lo, scale_init=scale_init,
                           per_element=per_element)
    layer.build(shape)
    layer.trainable = fixed != "frozen"
    return layer


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("per_element", [True, False])
@pytest.mark.parametrize("bounds", [(0.001, 1.999), (2.5, 16.0)])
@pytest.mark.parametrize("fixed", [None, "alpha", "scale"])
def test_nll_value_and_every_gradient_equal_autodiff_of_its_formula(compiled, per_element, bounds, fixed):
    # The layer's NLL (latents mapped into their ranges, inputs flattened,
    # log Z once per alpha, special cases outside the range skipped)
    # against the formula written here from `robust_rho` and
    # `log_partition`: the value and the gradients in y_pred and both
    # latents, alpha below and above 2, residuals past the exponent's cap,
    # eager and under jax.jit / tf.function(jit_compile=True).
    if compiled and keras.backend.backend() == "torch":
        pytest.skip("PyTorch runs eager here")
    rng = np.random.default_rng(22)
    shape = (7, 5, 4, 3)
    y_true = rng.uniform(size=shape).astype("float32")
    y_pred = (y_true + rng.normal(scale=0.4, size=shape)).astype("float32")
    if per_element:
        y_pred[0, 0, 0, :] = 1e15  # past the cap for alpha above about 1.7
    weights = np.float32([1.0, -2.0, 0.5, 3.0, 0.0, 1.5, 0.25])
    layer = gradient_test_layer(shape, bounds, fixed, per_element)
    alpha_hi, scale_lo = layer.alpha_hi, layer.scale_lo
    latent_shape = shape[1:] if per_element else ()
    latents = [rng.uniform(-3, 3, latent_shape).astype("float32") if hasattr(layer, "alpha_latent") else None,
               rng.uniform(-3, 1, latent_shape).astype("float32") if hasattr(layer, "scale_latent") else None]
    given = [v for v in latents if v is not None]

    def layer_nll(layer):
        def fn(y_pred, *values):
            nll, _ = layer.stateless_call(list(values), [], y_true, y_pred)
            return nll * ops.convert_to_tensor(weights)
        return fn

    def formula(y_pred, *values):
        values = iter(values)
        alpha = bounds[0] if latents[0] is None else bounds[0] + (alpha_hi - bounds[0]) * ops.sigmoid(next(values))
        scale = scale_lo if latents[1] is None else scale_lo + ops.softplus(next(values))
        alpha = ops.convert_to_tensor(alpha) * ops.ones(shape[1:])
        residual = y_pred - ops.convert_to_tensor(y_true)
        per_element = robust_rho(residual, alpha, scale) + ops.log(scale) + log_partition(alpha)
        return ops.sum(ops.reshape(per_element, (shape[0], -1)), axis=1) * ops.convert_to_tensor(weights)

    got = value_and_grads(layer_nll(layer), y_pred, *given, compiled=compiled)
    names = ["value", "y_pred"] + [n for n, v in zip(["alpha_latent", "scale_latent"], latents) if v is not None]
    if per_element:
        want = value_and_grads(formula, y_pred, *given, compiled=compiled)
        for name, g, w in zip(names, [got[0]] + got[1], [want[0]] + want[1]):
            assert np.all(np.isfinite(w)), name
            # atol: an alpha gradient of -0.00498 is rho's 0.0152 plus log Z's
            # -0.0200; the two float32 forms were 9e-7 and 2e-7 off a float64
            # evaluation there.
            np.testing.assert_allclose(g, w, rtol=2e-5, atol=3e-6, err_msg=name)
    else:
        # A shared alpha's float32 gradient sums terms of both signs and
        # sizes up to 2 / alpha**2, so its rounding depends on the order of
        # the sum: checked against the per-element layer at the same values,
        # its gradients summed over the elements.
        twin = gradient_test_layer(shape, bounds, fixed, True)
        spread = [np.full(shape[1:], v, "float32") for v in given]
        want = value_and_grads(layer_nll(twin), y_pred, *spread, compiled=compiled)
        want_grads = [want[1][0]] + [g.sum() for g in want[1][1:]]
        for name, g, w in zip(names, [got[0]] + got[1], [want[0]] + want_grads):
            np.testing.assert_allclose(g, w, rtol=2e-5, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("compiled", [False, True])
def test_nll_gradient_in_y_true_is_minus_that_in_y_pred(compiled):
    # The NLL depends on y_pred - y_true alone; where y_true needs a
    # gradient (a target computed by a model) it must get one.
    if compiled and keras.backend.backend() == "torch":
        pytest.skip("PyTorch runs eager here")
    rng = np.random.default_rng(23)
    y_true = rng.uniform(size=(6, 5, 4, 1)).astype("float32")
    y_pred = (y_true + rng.normal(scale=0.3, size=y_true.shape)).astype("float32")
    layer = AdaptiveRobust()
    layer.build(y_true.shape)
    layer.alpha_latent.assign(rng.uniform(-3, 3, (5, 4, 1)).astype("float32"))
    _, (grad_true, grad_pred) = value_and_grads(lambda t, p: layer(t, p), y_true, y_pred, compiled=compiled)
    assert np.abs(grad_pred).min() > 0
    np.testing.assert_array_equal(grad_true, -grad_pred)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="unknown sizes while tracing: tf.function only")
def test_shared_alpha_nll_traces_with_unknown_sizes():
    # A shared alpha and scale count log c + log Z once per element, and
    # the number of elements may be unknown until the graph runs.
    import tensorflow as tf

    layer = AdaptiveRobust(per_element=False)
    layer.build((4, 10))
    rng = np.random.default_rng(24)
    y_true, y_pred = rng.uniform(size=(2, 4, 10)).astype("float32")
    spec = tf.TensorSpec((None, None), "float32")
    traced = tf.function(lambda t, p: layer(t, p), input_signature=[spec, spec])
    np.testing.assert_allclose(traced(y_true, y_pred).numpy(), to_numpy(layer(y_true, y_pred)), rtol=1e-6)
