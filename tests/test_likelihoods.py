import math

import keras
import numpy as np
import pytest
import scipy.stats
from keras import ops

from keras_recon import data
from keras_recon.callbacks import GammaBalancer
from keras_recon.likelihoods import AdaptiveRobust
from keras_recon.likelihoods import Cauchy
from keras_recon.likelihoods import Gaussian
from keras_recon.likelihoods import GaussianNLL
from keras_recon.likelihoods import Laplace
from keras_recon.likelihoods import StudentT
from keras_recon.losses import squared_error
from keras_recon.models import AE
from keras_recon.models import VAE
from keras_recon.models import architectures
from tests.backend_utils import to_numpy
from tests.backend_utils import value_and_grads


def pair(seed=0, shape=(4, 6, 6, 1)):
    rng = np.random.default_rng(seed)
    y_true = rng.uniform(0, 1, shape).astype("float32")
    y_pred = (y_true + rng.normal(scale=0.2, size=shape)).astype("float32")
    return y_true, y_pred


def per_sample(logpdf):
    return -logpdf.reshape(logpdf.shape[0], -1).sum(axis=1)


def test_fixed_gamma_of_one_over_root_two_is_the_summed_squared_error():
    y_true, y_pred = pair()
    gamma = 1 / math.sqrt(2)
    nll = to_numpy(Gaussian(gamma=gamma)(y_true, y_pred))
    constant = 36 * (math.log(gamma) + 0.5 * math.log(2 * math.pi))
    np.testing.assert_allclose(nll, to_numpy(squared_error(y_true, y_pred)) + constant, rtol=1e-5)


@pytest.mark.parametrize("scale", [0.1, 1.0, 3.0])
def test_nll_equals_scipy_log_densities(scale):
    y_true, y_pred = pair()
    t = (y_pred - y_true).astype(np.float64)
    cases = [
        (Gaussian(gamma=scale), scipy.stats.norm.logpdf(t, scale=scale)),
        (Laplace(b=scale), scipy.stats.laplace.logpdf(t, scale=scale)),
        (Cauchy(scale=scale), scipy.stats.cauchy.logpdf(t, scale=scale)),
        (StudentT(dof=2.5, scale=scale), scipy.stats.t.logpdf(t, df=2.5, scale=scale)),
        (StudentT(dof=1.0, scale=scale), scipy.stats.cauchy.logpdf(t, scale=scale)),
    ]
    for layer, logpdf in cases:
        np.testing.assert_allclose(
            to_numpy(layer(y_true, y_pred)), per_sample(logpdf), rtol=2e-5, atol=1e-4, err_msg=type(layer).__name__
        )


def test_optimal_gamma_gives_the_log_mse_and_keeps_its_gradient():
    y_true, y_pred = pair()
    mse = np.mean((y_pred.astype(np.float64) - y_true) ** 2)
    d = 36
    value, (_, grad) = value_and_grads(Gaussian(gamma="optimal"), y_true, y_pred)
    expected = ((y_pred - y_true) ** 2).reshape(4, -1).sum(1) / (2 * mse) + d * (
        0.5 * np.log(mse) + 0.5 * np.log(2 * np.pi)
    )
    np.testing.assert_allclose(value, expected, rtol=1e-5)
    # d/dx of sum_i [SE_i / (2 mse) + D/2 log mse] with mse the batch mean:
    # the first part is constant (= N D / 2), so only log mse remains.
    n_total = y_true.size
    np.testing.assert_allclose(grad, 4 * d / 2 * 2 * (y_pred - y_true) / (n_total * mse), rtol=1e-4)


@pytest.mark.parametrize("bad", [-1.0, 0.0, math.inf, "fixed", "sometimes", True])
def test_bad_scales_are_refused(bad):
    with pytest.raises(ValueError, match="gamma"):
        Gaussian(gamma=bad)
    with pytest.raises(ValueError, match="`b`"):
        Laplace(b=bad)


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="same shape"):
        Gaussian(gamma=1.0)(np.zeros((2, 4)), np.zeros((2, 5)))


@pytest.fixture(scope="module")
def digits():
    x, _ = data.load_embedded_mnist()
    return x[::20]  # 250 real digits


LIKELIHOODS = {
    "gaussian-learned": lambda: Gaussian(gamma="learned"),
    "gaussian-computed": lambda: Gaussian(gamma="computed"),
    "gaussian-optimal": lambda: Gaussian(gamma="optimal"),
    "laplace-learned": lambda: Laplace(b="learned"),
    "laplace-computed": lambda: Laplace(b="computed"),
    "student-t": lambda: StudentT(),
    "cauchy": lambda: Cauchy(),
    "adaptive-robust": lambda: AdaptiveRobust(),
}


@pytest.mark.parametrize("name", sorted(LIKELIHOODS))
def test_every_likelihood_trains_in_a_vae_and_round_trips(name, digits, tmp_path):
    keras.utils.set_random_seed(0)
    vae = VAE(*architectures.mlp((28, 28, 1), 4, hidden=(64,)), likelihood=LIKELIHOODS[name](), seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(2e-3))
    vae(digits[:2])  # builds the model, the likelihood included
    before = [to_numpy(w).copy() for w in vae.likelihood.weights]
    history = vae.fit(digits, epochs=3, batch_size=50, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][-1] < history.history["loss"][0]
    after = [to_numpy(w) for w in vae.likelihood.weights]
    if "learned" in name or name in ("student-t", "cauchy", "adaptive-robust", "gaussian-computed", "laplace-computed"):
        assert any(not np.allclose(a, b) for a, b in zip(before, after)), "scale never moved"
    vae.save(tmp_path / "v.keras")
    loaded = keras.models.load_model(tmp_path / "v.keras")
    assert type(loaded.likelihood) is type(vae.likelihood)
    for a, b in zip(loaded.likelihood.weights, vae.likelihood.weights):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    np.testing.assert_array_equal(to_numpy(loaded.reconstruct(digits[:5])), to_numpy(vae.reconstruct(digits[:5])))


def batch_mse(model, batches):
    """Each batch's true MSE, computed before `fit` (the weights are frozen)."""
    return [float(np.mean((to_numpy(model(x)) - x) ** 2)) for x in batches]


def frozen_computed_ae():
    """An AE with a computed gamma and learning rate 0: frozen weights, so
    every batch's error is known in advance."""
    keras.utils.set_random_seed(0)
    encoder, decoder = architectures.mlp((28, 28, 1), 4, hidden=(32,), gaussian=False)
    model = AE(encoder, decoder, likelihood=Gaussian(gamma="computed"))
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    return model


@pytest.mark.parametrize("decay", [0.99, 0.9])
def test_each_step_uses_the_gamma_of_the_running_minimum_recurrence(digits, decay):
    # The running MSE advances inside the compiled step (a variable assigned
    # in `compute_loss`): the trajectory the balancer records, the value the
    # variable ends at, and the gamma each step's loss was computed with all
    # follow s <- min(s, decay s + (1 - decay) m), m each batch's true MSE.
    model = frozen_computed_ae()
    batches = [digits[i : i + 25] for i in range(0, 250, 25)]
    mse = batch_mse(model, batches)
    balancer = GammaBalancer(decay=decay)
    history = model.fit(digits, batch_size=25, epochs=1, shuffle=False, verbose=0, callbacks=[balancer])
    s, expected = 1.0, []
    for m in mse:
        s = min(s, decay * s + (1 - decay) * m)
        expected.append(math.sqrt(s))
    np.testing.assert_allclose(balancer.trajectory, expected, rtol=1e-5)
    assert history.history["gamma"][-1] == pytest.approx(expected[-1], rel=1e-5)
    # The last batch's update is in the variable after `fit`.
    assert float(to_numpy(model.likelihood.running_statistic)) == pytest.approx(s, rel=1e-5)
    # Each step's loss used the gamma left by the previous step: Keras logs
    # the running mean, so the k-th batch's value is (k+1) m_k - k m_(k-1).
    # With gamma fixed at 1 the mean would be far larger.
    gammas = [1.0] + expected[:-1]
    d = 784
    per_batch = [
        m * d / (2 * g**2) + d * (math.log(g) + 0.5 * math.log(2 * math.pi))
        for m, g in zip(mse, gammas)
    ]
    assert history.history["reconstruction"][-1] == pytest.approx(np.mean(per_batch), rel=1e-4)


def test_evaluation_leaves_the_running_statistic_alone(digits):
    model = frozen_computed_ae()
    model.evaluate(digits[:100], batch_size=25, verbose=0)
    assert float(to_numpy(model.likelihood.running_statistic)) == 1.0


class SetRunning(keras.callbacks.Callback):
    """Assigns the running statistic when the first epoch ends."""

    def __init__(self, value):
        super().__init__()
        self.value = value

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.model.likelihood.running_statistic.assign(self.value)


def test_steps_continue_from_a_running_value_assigned_between_epochs(digits):
    # An assignment between epochs (a restore, a user's callback) is what
    # the next epoch's steps continue from.
    model = frozen_computed_ae()
    batches = [digits[i : i + 50] for i in range(0, 250, 50)]
    # Below every batch's MSE, so the second epoch's gamma stays there.
    low = 0.5 * min(float(np.mean((to_numpy(model(x)) - x) ** 2)) for x in batches)
    mse, balancer = batch_mse(model, batches), GammaBalancer()
    model.fit(digits, batch_size=50, epochs=2, shuffle=False, verbose=0,
              callbacks=[SetRunning(low), balancer])
    s, expected = 1.0, []
    for k, m in enumerate(mse + mse):
        if k == len(batches):
            s = low
        s = min(s, 0.99 * s + 0.01 * m)
        expected.append(math.sqrt(s))
    np.testing.assert_allclose(balancer.trajectory, expected, rtol=1e-5)
    assert expected[-1] == pytest.approx(math.sqrt(low), rel=1e-6)


def test_balancer_is_added_by_fit_and_steps_per_execution_keeps_the_recurrence(digits):
    model = frozen_computed_ae()
    batches = [digits[i : i + 50] for i in range(0, 250, 50)]
    mse = batch_mse(model, batches)
    # PyTorch's trainer runs one step per execution only.
    steps = 1 if keras.backend.backend() == "torch" else 2
    model.compile(optimizer=keras.optimizers.SGD(0.0), steps_per_execution=steps)
    history = model.fit(digits, batch_size=50, epochs=1, shuffle=False, verbose=0)
    s = 1.0
    for m in mse:
        s = min(s, 0.99 * s + 0.01 * m)
    assert history.history["gamma"][-1] == pytest.approx(math.sqrt(s), rel=1e-5)


def test_gaussian_nll_in_compile_is_adopted_and_learned(digits):
    keras.utils.set_random_seed(0)
    vae = VAE(*architectures.mlp((28, 28, 1), 4, hidden=(32,)), seed=0)
    loss = GaussianNLL(gamma="learned")
    vae.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss)
    assert vae.likelihood is loss.likelihood
    vae.fit(digits, batch_size=50, epochs=2, verbose=0)
    # On JAX too: gamma is a model variable, so the jitted step trains it.
    assert float(to_numpy(loss.likelihood.log_scale)) < -0.05


def test_gaussian_nll_with_state_refuses_a_model_that_cannot_own_it(digits):
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Identity()])
    model.compile(optimizer="adam", loss=GaussianNLL(gamma="computed"))
    with pytest.raises(ValueError, match="keras_recon model"):
        model.fit(digits, digits, epochs=1, verbose=0)
    # A fixed gamma has no state and works with any model.
    fixed = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Dense(1)])
    fixed.compile(optimizer="adam", loss=GaussianNLL(gamma=0.5))
    fixed.fit(digits, digits, epochs=1, verbose=0)


def test_loaded_model_is_compiled_and_keeps_the_adopted_gamma(digits, tmp_path):
    keras.utils.set_random_seed(0)
    vae = VAE(*architectures.mlp((28, 28, 1), 4, hidden=(32,)), seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2), loss=GaussianNLL(gamma="learned"))
    vae.fit(digits, batch_size=50, epochs=1, verbose=0)
    vae.save(tmp_path / "g.keras")
    loaded = keras.models.load_model(tmp_path / "g.keras")
    assert isinstance(loaded.loss, GaussianNLL)
    assert loaded.loss.likelihood is loaded.likelihood
    assert float(to_numpy(loaded.likelihood.log_scale)) == pytest.approx(
        float(to_numpy(vae.likelihood.log_scale))
    )
    loaded.fit(digits, batch_size=50, epochs=1, verbose=0)  # trains on


def test_negative_elbo_per_image_and_in_bits_per_dim(digits):
    from keras_recon.metrics import bits_per_dim

    keras.utils.set_random_seed(0)
    vae = VAE(*architectures.mlp((28, 28, 1), 4, hidden=(32,)), likelihood=Gaussian(gamma=0.1), seed=0)
    vae(digits[:2])
    nelbo = vae.negative_elbo(digits[:6], samples=3, seed=1)
    assert type(nelbo) is np.ndarray
    assert nelbo.shape == (6,)
    # By hand: KL + the Gaussian NLL of the decoded draws, same seeds.
    z_mean, z_log_var = (to_numpy(t) for t in vae.encode(digits[:6]))
    kl = 0.5 * np.sum(np.exp(z_log_var) + z_mean**2 - 1 - z_log_var, axis=1)
    nll = 0
    for i in range(3):
        eps = to_numpy(keras.random.normal(z_mean.shape, seed=1 + i))
        recon = to_numpy(vae.decode(z_mean + np.exp(0.5 * z_log_var) * eps))
        nll = nll + to_numpy(Gaussian(gamma=0.1)(digits[:6], recon)) / 3
    np.testing.assert_allclose(nelbo, kl + nll, rtol=1e-4)
    bpd = to_numpy(bits_per_dim(nelbo, 784))
    np.testing.assert_allclose(bpd, nelbo / (784 * np.log(2)), rtol=1e-6)
    with pytest.raises(ValueError, match="likelihood"):
        VAE(*architectures.mlp((28, 28, 1), 4, hidden=(32,))).negative_elbo(digits[:2])


def test_gaussian_gamma_property_is_the_value_in_use():
    assert float(keras.ops.convert_to_numpy(Gaussian(gamma=0.5).gamma)) == 0.5
    learned = Gaussian(gamma="learned", initial_scale=2.0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(learned.gamma), 2.0, rtol=1e-6)
    computed = Gaussian(gamma="computed")
    computed.running_statistic.assign(0.25)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(computed.gamma), 0.5, rtol=1e-6)
    with pytest.raises(ValueError, match="per minibatch"):
        Gaussian(gamma="optimal").gamma


def test_per_element_student_t_and_cauchy_match_scipy_per_coefficient():
    rng = np.random.default_rng(3)
    y_true = rng.uniform(size=(3, 4, 4, 1)).astype("float32")
    y_pred = rng.uniform(size=(3, 4, 4, 1)).astype("float32")
    scale = rng.uniform(0.1, 1.0, size=(4, 4, 1))
    dof = rng.uniform(0.5, 5.0, size=(4, 4, 1))
    t = (y_pred - y_true).astype(np.float64)
    student = StudentT(per_element=True)
    student.build(y_true.shape)
    student.log_scale.assign(np.log(scale).astype("float32"))
    student.log_dof.assign(np.log(dof).astype("float32"))
    expected = -scipy.stats.t.logpdf(t, df=dof, scale=scale).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(to_numpy(student(y_true, y_pred)), expected, rtol=1e-4)
    cauchy = Cauchy(per_element=True)
    cauchy.build(y_true.shape)
    cauchy.log_scale.assign(np.log(scale).astype("float32"))
    expected = -scipy.stats.cauchy.logpdf(t, scale=scale).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(to_numpy(cauchy(y_true, y_pred)), expected, rtol=1e-4)


@pytest.mark.parametrize("representation", ["dct", "wavelet"])
def test_heavy_tailed_representation_models_the_transformed_residual(representation):
    from keras_recon.likelihoods.representations import represent

    rng = np.random.default_rng(4)
    y_true = rng.uniform(size=(2, 8, 8, 3)).astype("float32")
    y_pred = rng.uniform(size=(2, 8, 8, 3)).astype("float32")
    transformed = StudentT(dof=3.0, representation=representation, color="yuv")
    plain = StudentT(dof=3.0)
    expected = plain(represent(y_true, representation, "yuv"), represent(y_pred, representation, "yuv"))
    np.testing.assert_allclose(to_numpy(transformed(y_true, y_pred)), to_numpy(expected), rtol=1e-5)
    with pytest.raises(ValueError, match="representation"):
        Cauchy(representation="fourier")


def test_likelihoods_flatten_images_and_their_per_element_maps_together():
    from keras_recon.likelihoods._scale import flatten_samples

    y_true, y_pred = pair(shape=(4, 6, 6, 1))
    scale_map = np.arange(36, dtype="float32").reshape(6, 6, 1)
    t, p, s, c = flatten_samples(y_true, y_pred, scale_map, np.float32(2.0))
    assert tuple(t.shape) == tuple(p.shape) == (4, 36) and tuple(s.shape) == (36,)
    np.testing.assert_array_equal(to_numpy(s), scale_map.reshape(36))
    np.testing.assert_array_equal(to_numpy(p), y_pred.reshape(4, 36))
    # A map of another shape (broadcasting over channels only) keeps them all as they are.
    kept = flatten_samples(y_true, y_pred, np.ones((1, 1, 1), "float32"))
    assert [tuple(k.shape) for k in kept] == [(4, 6, 6, 1), (4, 6, 6, 1), (1, 1, 1)]


class CountsCalls:
    """Counts the calls that go through `Layer.__call__`."""

    calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return super().__call__(*args, **kwargs)


class CountingGaussian(CountsCalls, Gaussian):
    pass


class CountingSquares(CountsCalls, keras.layers.Layer):
    def build(self, y_true_shape, y_pred_shape=None):
        self.built = True

    def call(self, y_true, y_pred):
        return ops.sum(ops.reshape(ops.square(y_pred - y_true), (ops.shape(y_true)[0], -1)), axis=1)


def test_models_call_every_likelihood_through_layer_call(digits):
    # keras_recon's likelihoods and a user's layer alike go through
    # `Layer.__call__`, and give the same reconstruction term.
    results = {}
    for layer in (CountingGaussian(gamma=0.5), CountingSquares()):
        keras.utils.set_random_seed(0)
        encoder, decoder = architectures.mlp((28, 28, 1), 4, hidden=(16,), gaussian=False)
        model = AE(encoder, decoder, likelihood=layer)
        model.compile(optimizer="adam")
        history = model.fit(digits[:100], batch_size=50, epochs=1, verbose=0)
        results[type(layer).__name__] = (layer.calls, history.history["reconstruction"][-1])
    assert results["CountingGaussian"][0] >= 1
    assert results["CountingSquares"][0] >= 1
    # Same reconstruction term either way: Gaussian(0.5) is 2x the summed
    # squares plus a constant, and both models start from the same weights.
    constant = 784 * (math.log(0.5) + 0.5 * math.log(2 * math.pi))
    assert results["CountingGaussian"][1] == pytest.approx(2 * results["CountingSquares"][1] + constant, rel=1e-4)
