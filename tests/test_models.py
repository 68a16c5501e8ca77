import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import ops

from keras_recon import data
from keras_recon.losses import LogCosh
from keras_recon.models import AE
from keras_recon.models import VAE
from keras_recon.models import WAE
from keras_recon.models import TwoStageVAE
from keras_recon.models import architectures
from keras_recon.models import mmd_imq
from tests import model_script
from tests.backend_utils import BACKEND
from tests.backend_utils import to_numpy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def digits():
    x, _ = data.load_embedded_mnist()
    return x[::10]  # 500 real digits


def small_mlp(latent_dim=4, gaussian=True):
    return architectures.mlp((28, 28, 1), latent_dim, hidden=(64,), gaussian=gaussian)


def build(kind):
    keras.utils.set_random_seed(0)
    if kind == "AE":
        return AE(*small_mlp(gaussian=False))
    if kind == "VAE":
        return VAE(*small_mlp(), seed=1)
    if kind == "WAE":
        return WAE(*small_mlp(gaussian=False), mmd_weight=10.0, seed=1)
    if kind == "WAE-gaussian":
        return WAE(*small_mlp(), gaussian_encoder=True, log_var_penalty=1.0, seed=1)
    raise ValueError(kind)


TERMS = {
    "AE": {"loss", "reconstruction"},
    "VAE": {"loss", "reconstruction", "kl"},
    "WAE": {"loss", "reconstruction", "mmd"},
    "WAE-gaussian": {"loss", "reconstruction", "mmd"},
}


@pytest.mark.parametrize("kind", sorted(TERMS))
def test_fit_and_evaluate_track_every_term(kind, digits):
    model = build(kind)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss=LogCosh(a=10))
    history = model.fit(digits, epochs=4, batch_size=50, verbose=0)
    assert set(history.history) == TERMS[kind]
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]
    result = model.evaluate(digits, batch_size=50, verbose=0, return_dict=True)
    assert set(result) == TERMS[kind]
    assert all(math.isfinite(v) for v in result.values())


def test_gaussian_wae_adds_the_log_variance_penalty_and_stays_finite(digits):
    model = WAE(*small_mlp(), gaussian_encoder=True, log_var_penalty=2.5, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss=LogCosh(a=10))
    history = model.fit(digits, epochs=3, batch_size=50, verbose=0)
    # Codes drift far from the prior here; the MMD's distances must not
    # round negative and blow up (they did before clamping).
    assert np.all(np.isfinite(history.history["loss"]))
    r = model.evaluate(digits, batch_size=500, verbose=0, return_dict=True)
    log_var = np.clip(to_numpy(model.encoder(digits))[:, 4:], -30, 20)
    penalty = r["loss"] - r["reconstruction"] - 10.0 * r["mmd"]
    assert penalty == pytest.approx(2.5 * np.abs(log_var).mean(), rel=1e-3)


def test_vae_total_is_reconstruction_plus_beta_kl(digits):
    model = VAE(*small_mlp(), beta=0.3, reconstruction_weight=2.0, seed=1)
    model.compile(optimizer="adam", loss=LogCosh(a=10))
    r = model.evaluate(digits, batch_size=500, verbose=0, return_dict=True)
    assert r["loss"] == pytest.approx(2.0 * r["reconstruction"] + 0.3 * r["kl"], rel=1e-5)
    # The KL is the analytic Gaussian KL, summed over latents, batch-averaged.
    z_mean, z_log_var = (to_numpy(t).astype(np.float64) for t in model.encode(digits))
    kl = 0.5 * np.sum(np.exp(z_log_var) + z_mean**2 - 1 - z_log_var, axis=1).mean()
    assert r["kl"] == pytest.approx(kl, rel=1e-4)


def test_fit_with_explicit_targets_trains_a_denoiser(digits):
    rng = np.random.default_rng(0)
    noisy = np.clip(digits + 0.3 * rng.normal(size=digits.shape), 0, 1).astype("float32")
    model = build("AE")
    model.compile(optimizer="adam", loss="mse")
    model.fit(noisy, digits, epochs=1, batch_size=50, verbose=0)
    r = model.evaluate(noisy, digits, verbose=0, return_dict=True)
    recon = to_numpy(model(noisy))
    assert r["reconstruction"] == pytest.approx(np.mean((recon - digits) ** 2), rel=1e-4)


@pytest.mark.parametrize("kind", ["AE", "VAE", "WAE", "WAE-gaussian"])
def test_reconstruct_is_deterministic_and_interpolate_ends_at_both(kind, digits):
    model = build(kind)
    a = to_numpy(model.reconstruct(digits[:8]))
    b = to_numpy(model.reconstruct(digits[:8]))
    np.testing.assert_array_equal(a, b)
    path = to_numpy(model.interpolate(digits[0], digits[1], steps=6))
    assert path.shape == (6, 28, 28, 1)
    np.testing.assert_allclose(path[0], a[0], atol=1e-5)
    np.testing.assert_allclose(path[-1], a[1], atol=1e-5)
    with pytest.raises(ValueError, match="steps"):
        model.interpolate(digits[0], digits[1], steps=1)


@pytest.mark.parametrize("kind", ["AE", "VAE", "WAE", "WAE-gaussian"])
def test_inference_methods_return_numpy_arrays(kind, digits):
    # As `Model.predict` does: host arrays with no gradient attached, which
    # `np.asarray` and NumPy arithmetic take on every backend.
    model = build(kind)
    codes = model.encode(digits[:8])
    outputs = {
        "encode": codes,
        "decode": model.decode(codes[0] if kind == "VAE" else codes),
        "reconstruct": model.reconstruct(digits[:8]),
        "interpolate": model.interpolate(digits[0], digits[1], steps=3),
    }
    if kind != "AE":
        outputs["sample"] = model.sample(3, seed=0)
    for name, out in outputs.items():
        for array in out if isinstance(out, tuple) else (out,):
            assert type(array) is np.ndarray, (name, type(array))
    whole = model.reconstruct(digits[:10])
    np.testing.assert_allclose(model.reconstruct(digits[:10], batch_size=3), whole, atol=1e-6)
    assert whole.shape == (10, 28, 28, 1)
    with pytest.raises(ValueError, match="batch_size"):
        model.reconstruct(digits[:4], batch_size=0)


@pytest.mark.parametrize("kind", ["VAE", "WAE"])
def test_sample_is_seeded(kind):
    model = build(kind)
    one, two = to_numpy(model.sample(5, seed=7)), to_numpy(model.sample(5, seed=7))
    other = to_numpy(model.sample(5, seed=8))
    assert one.shape == (5, 28, 28, 1)
    np.testing.assert_array_equal(one, two)
    assert not np.allclose(one, other)


def numpy_mmd(z, p, scales=(0.1, 0.2, 0.5, 1, 2, 5, 10)):
    n, d = z.shape
    total = 0.0
    for s in scales:
        c = 2 * d * s

        def k(a, b):
            return c / (c + ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

        off = ~np.eye(n, dtype=bool)
        total += (k(z, z)[off].sum() + k(p, p)[off].sum()) / (n * (n - 1)) - 2 * k(z, p).mean()
    return total


def test_mmd_matches_numpy_and_vanishes_for_the_prior():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(64, 8)) * 0.5 + 1.0
    p = rng.normal(size=(64, 8))
    ours = float(to_numpy(mmd_imq(ops.convert_to_tensor(z, "float32"), ops.convert_to_tensor(p, "float32"))))
    assert ours == pytest.approx(numpy_mmd(z, p), rel=1e-4)
    big_q, big_p = rng.normal(size=(500, 8)), rng.normal(size=(500, 8))
    same = float(to_numpy(mmd_imq(ops.convert_to_tensor(big_q, "float32"), ops.convert_to_tensor(big_p, "float32"))))
    assert abs(same) < 0.05 * ours


def test_two_stage_vae_trains_and_samples_through_both_stages(digits):
    keras.utils.set_random_seed(0)
    first = VAE(*small_mlp(latent_dim=4), seed=1)
    second = VAE(*architectures.second_stage(4, inner_dim=32, depth=2), seed=2)
    model = TwoStageVAE(first, second)
    model.compile(optimizer="adam", loss=LogCosh(a=10))
    history = model.fit(digits, epochs=2, batch_size=50, verbose=0)
    assert {"loss", "reconstruction", "kl"} <= set(history.history)
    second.compile(optimizer="adam", loss="mse")
    h2 = model.fit_second_stage(digits, epochs=3, batch_size=50, verbose=0, seed=0)
    assert h2.history["loss"][-1] < h2.history["loss"][0]
    images = to_numpy(model.sample(6, seed=0))
    assert images.shape == (6, 28, 28, 1)
    # Sampling goes through the second stage's decoder, then the first's.
    codes = to_numpy(second.sample(6, seed=0))
    np.testing.assert_allclose(images, to_numpy(first.decode(codes)), atol=1e-6)
    with pytest.raises(ValueError, match="VAE"):
        TwoStageVAE(first, "not a model")


@pytest.mark.parametrize("kind", ["AE", "VAE", "WAE"])
def test_save_and_load_give_identical_reconstructions(kind, digits, tmp_path):
    model = build(kind)
    model.compile(optimizer="adam", loss=LogCosh(a=100))
    model.fit(digits[:100], epochs=1, batch_size=50, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(
        to_numpy(loaded.reconstruct(digits[:10])), to_numpy(model.reconstruct(digits[:10]))
    )
    assert isinstance(loaded.loss, LogCosh)


def test_two_stage_save_and_load(digits, tmp_path):
    first = VAE(*small_mlp(), seed=1)
    second = VAE(*architectures.second_stage(4, inner_dim=16, depth=1), seed=2)
    model = TwoStageVAE(first, second)
    model.compile(optimizer="adam", loss="mse")
    model.fit(digits[:100], epochs=1, batch_size=50, verbose=0)
    model.second.compile(optimizer="adam", loss="mse")
    model.fit_second_stage(digits[:100], epochs=1, verbose=0)
    model.save(tmp_path / "two.keras")
    loaded = keras.models.load_model(tmp_path / "two.keras")
    np.testing.assert_allclose(
        to_numpy(loaded.sample(4, seed=3)), to_numpy(model.sample(4, seed=3)), atol=1e-6
    )


def run_script(backend, *args):
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "tests.model_script", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


@pytest.mark.parametrize("other", [b for b in ("tensorflow", "jax", "torch") if b != BACKEND])
def test_model_saved_here_loads_under_other_backend(other, tmp_path):
    # Run under each backend in turn, this covers every (saver, loader) pair.
    path = str(tmp_path / "vae.keras")
    vae = model_script.save(path)
    here = np.asarray(model_script.reconstructions(vae))
    there = run_script(other, "load", path)
    assert there["backend"] == other
    np.testing.assert_allclose(np.asarray(there["recon"]), here, rtol=1e-5, atol=1e-6)


def count(model):
    return sum(int(np.prod(w.shape)) for w in model.weights)


def test_mlp_parameter_counts():
    encoder, decoder = architectures.mlp((28, 28, 1), 8)
    assert count(encoder) == (784 * 500 + 500) + (500 * 500 + 500) + (500 * 16 + 16)
    assert count(decoder) == (8 * 500 + 500) + (500 * 500 + 500) + (500 * 784 + 784)
    assert encoder.output_shape == (None, 16) and decoder.output_shape == (None, 28, 28, 1)


def bn(channels):
    return 4 * channels  # gamma, beta, moving mean, moving variance


def test_conv_mnist_parameter_counts():
    encoder, decoder = architectures.conv_mnist((28, 28, 1), 8)
    # 4x4 convolutions without bias (batch norm follows); 28 -> 14 -> 7 -> 4 -> 2.
    enc = (1 * 16 * 128 + bn(128)) + (128 * 16 * 256 + bn(256)) + (256 * 16 * 512 + bn(512))
    enc += (512 * 16 * 1024 + bn(1024)) + (2 * 2 * 1024 * 16 + 16)
    assert count(encoder) == enc
    dec = (8 * 7 * 7 * 1024 + 7 * 7 * 1024) + (1024 * 16 * 512 + bn(512))
    dec += (512 * 16 * 256 + bn(256)) + (256 * 16 * 1 + 1)
    assert count(decoder) == dec
    assert decoder.output_shape == (None, 28, 28, 1)


def test_conv_celeba_parameter_counts():
    encoder, decoder = architectures.conv_celeba((64, 64, 3), 64)
    enc = (3 * 16 * 128 + bn(128)) + (128 * 16 * 256 + bn(256)) + (256 * 16 * 512 + bn(512))
    enc += (512 * 16 * 1024 + bn(1024)) + (4 * 4 * 1024 * 128 + 128)
    assert count(encoder) == enc
    dec = (64 * 8 * 8 * 1024 + 8 * 8 * 1024) + (1024 * 16 * 512 + bn(512))
    dec += (512 * 16 * 256 + bn(256)) + (256 * 16 * 128 + bn(128)) + (128 * 16 * 3 + 3)
    assert count(decoder) == dec
    assert decoder.output_shape == (None, 64, 64, 3)


@pytest.mark.parametrize("build", [
    lambda: architectures.conv_mnist((28, 28, 1), 8),
    lambda: architectures.conv_celeba((16, 16, 3), 8),
], ids=["conv_mnist", "conv_celeba"])
def test_conv_decoders_are_not_affine_up_to_the_first_deconvolution(build):
    # The WAE code's DCGAN decoder puts a ReLU on the reshaped FC output;
    # without it FC -> Reshape -> Deconv is one linear map.
    keras.utils.set_random_seed(0)
    _, decoder = build()
    names = [type(layer).__name__ for layer in decoder.layers]
    reshape = names.index("Reshape")
    assert names[reshape + 1] == "ReLU"
    first_deconv = decoder.layers[names.index("Conv2DTranspose")]
    head = keras.Model(decoder.input, first_deconv.output)
    rng = np.random.default_rng(0)
    a, b = (rng.normal(size=(4, 8)).astype("float32") for _ in range(2))
    f = lambda z: to_numpy(head(z, training=False)).astype(np.float64)  # noqa: E731
    defect = f(a + b) - f(a) - f(b) + f(np.zeros_like(a))
    # An affine map leaves only float32 rounding (about 1e-7 of the scale).
    assert np.abs(defect).max() > 0.05 * np.abs(f(a)).max()


def test_dense_autoencoder_parameter_counts():
    for activation in ("sigmoid", "relu"):
        encoder, decoder = architectures.dense_autoencoder((784,), 32, activation)
        assert count(encoder) == 784 * 32 + 32
        assert count(decoder) == 32 * 784 + 784
    with pytest.raises(ValueError, match="output_activation"):
        architectures.dense_autoencoder((784,), 32, "tanh")


def test_resnet_parameter_counts():
    # The released defaults for CIFAR-10 (asperti/BalancingVAE,
    # computed_gamma.py): 3 scale blocks of one residual block, base width
    # 32, dense width 512, 64 latents, 3x3 kernels everywhere, every conv
    # with a bias.
    encoder, decoder = architectures.resnet((32, 32, 3), 64)

    def conv(c_in, c_out):
        return 9 * c_in * c_out + c_out  # 3x3 kernel and bias

    def res_block(c):
        # BN-ReLU-conv twice on the main path, and a conv as the shortcut.
        return 2 * bn(c) + 3 * conv(c, c)

    enc = conv(3, 32)                             # first conv, 32x32
    enc += res_block(32) + conv(32, 64)           # scale 1, then stride 2 to 16x16
    enc += res_block(64) + conv(64, 128)          # scale 2, then stride 2 to 8x8
    enc += res_block(128)                         # scale 3: no downsampling after the last
    # Global average pooling leaves 128 features (no weights); the dense
    # residual block: (ReLU, dense) twice and a dense shortcut, no BN.
    enc += (128 * 512 + 512) + (512 * 512 + 512) + (128 * 512 + 512)
    enc += 512 * 128 + 128                        # means and log-variances
    assert count(encoder) == enc

    # 2x2 -> 4 -> 8 -> 16 -> 32: four transposed convs from width 32 * 2**4.
    dec = 64 * 2 * 2 * 512 + 2 * 2 * 512          # dense to the 2x2x512 map
    for c_in, c_out in ((512, 256), (256, 128), (128, 64), (64, 32)):
        dec += conv(c_in, c_out) + res_block(c_out)   # stride-2 deconv, scale block
    dec += conv(32, 3)                            # to the image, sigmoid
    assert count(decoder) == dec
    assert encoder.output_shape == (None, 128)
    assert decoder.output_shape == (None, 32, 32, 3)


def test_resnet_downsamples_once_less_than_its_scale_blocks_and_decodes_from_2x2():
    # The narrow net of the training test below (shapes shared, so it builds
    # fast on JAX): 2 scale blocks, so one downsampling, 16x16 to 8x8, before
    # the pooling; the decoder starts at 2x2 with 8 * 2**3 channels whatever
    # the scale blocks, and doubles the side three times.
    encoder, decoder = architectures.resnet((16, 16, 3), 8, scale_blocks=2, base_channels=8, dense_units=32)
    pooled = [l for l in encoder.layers if isinstance(l, keras.layers.GlobalAveragePooling2D)]
    assert len(pooled) == 1 and tuple(pooled[0].input.shape) == (None, 8, 8, 16)
    deconvs = [l for l in decoder.layers if isinstance(l, keras.layers.Conv2DTranspose)]
    assert [l.filters for l in deconvs] == [32, 16, 8]
    assert tuple(deconvs[0].input.shape) == (None, 2, 2, 64)
    assert decoder.output_shape == (None, 16, 16, 3)


def test_architectures_refuse_sizes_they_cannot_mirror():
    with pytest.raises(ValueError, match="divisible by 4"):
        architectures.conv_mnist((30, 30, 1), 8)
    with pytest.raises(ValueError, match="divisible by 8"):
        architectures.conv_celeba((60, 60, 3), 8)
    with pytest.raises(ValueError, match="power-of-two"):
        architectures.resnet((28, 28, 1), 8)
    with pytest.raises(ValueError, match="power-of-two"):
        architectures.resnet((32, 16, 3), 8)


def test_resnet_trains_in_a_vae(digits):
    # A narrow ResNet on 16 digits (pooled to 14x14, padded to 16x16, three
    # channels), 300 Adam steps on that one batch. Measured over seeds 0-2
    # on JAX and TensorFlow (0-1 on PyTorch): the last 30 steps' mean loss
    # is 0.10-0.16 of the first 30 steps', and the reconstruction error
    # 0.25-0.36 of the batch-mean image's, so the codes carry the digits,
    # not only their average (a decoder cut off from its codes stays at
    # that error, 1.0).
    small = digits[:16, :, :, 0].reshape(16, 14, 2, 14, 2).mean(axis=(2, 4))
    x = np.repeat(np.pad(small, ((0, 0), (1, 1), (1, 1)))[..., None], 3, axis=-1).astype("float32")
    mean_image_error = np.sum((x - x.mean(axis=0)) ** 2, axis=(1, 2, 3)).mean()
    keras.utils.set_random_seed(0)
    vae = VAE(*architectures.resnet((16, 16, 3), 8, scale_blocks=2, base_channels=8, dense_units=32), seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))  # summed squared error
    history = vae.fit(np.tile(x, (30, 1, 1, 1)), epochs=10, batch_size=16, shuffle=False, verbose=0).history
    assert history["loss"][-1] < 0.3 * history["loss"][0]
    assert history["reconstruction"][-1] < 0.6 * mean_image_error
