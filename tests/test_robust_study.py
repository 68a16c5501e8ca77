import numpy as np
import pytest

from keras_recon import cli
from keras_recon.studies import robust


def _curve(elbos, every=250):
    return [{"step": i * every, "elbo": e} for i, e in enumerate(elbos)]


def test_stopping_rule_stops_on_a_plateau_or_a_decline_not_on_a_climb():
    climbing = _curve([1000 + 100 * i for i in range(9)])  # +100 nats per 250 steps
    assert robust.improvement(climbing, 2000, robust.stop_window(2000, 1000)) > robust.TOLERANCE
    # Best at step 1000, then overfitting: nothing gained in the last 1000 steps.
    declining = _curve([1000, 1500, 1800, 1900, 2000, 1990, 1980, 1970, 1960])
    assert robust.improvement(declining, 2000, 1000) == 0.0
    flat = _curve([1000, 1500, 1800, 1900, 2000, 2000.5, 2001, 2001.5, 2001.9])
    assert 0 < robust.improvement(flat, 2000, 1000) < robust.TOLERANCE
    # No evaluation before the window: no decision yet.
    assert robust.improvement(climbing, 750, robust.stop_window(750, 1000)) is None
    assert robust.stop_window(20000, 1000) == 2000


def test_defaults_are_the_papers():
    args = cli.build_parser().parse_args(["robust"])
    assert args.alpha_range == (0.0, 3.0) and args.scale_min == 1e-8 and args.color == "paper"
    adaptive = robust.make_likelihood("adaptive", "pixels", "rgb", args.alpha_range, args.scale_min)
    assert (adaptive.alpha_lo, adaptive.alpha_hi, adaptive.scale_lo) == (0.0, 3.0, 1e-8)
    assert [robust.color_for(r, "paper", 3) for r in robust.REPRESENTATIONS] == ["rgb", "yuv", "yuv"]
    assert robust.color_for("dct", "paper", 1) == "rgb"


@pytest.mark.parametrize("distribution", robust.DISTRIBUTIONS)
def test_scales_start_at_the_data_and_the_latents_get_the_multiplier(distribution):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(40, 8, 8, 3)).astype("float32") * np.linspace(0.1, 1.0, 3, dtype="float32")
    spread = robust.coefficient_spread(x, "dct", "yuv")
    assert spread.shape == (8, 8, 3) and np.all(spread > 0)
    likelihood = robust.make_likelihood(distribution, "dct", "yuv")
    likelihood(x[:2], x[:2])
    robust.set_scales(likelihood, spread)
    _, _, scale = robust.shape_and_scale(likelihood)
    np.testing.assert_allclose(scale, spread.ravel(), rtol=1e-4)
    # Every trainable latent of the likelihood is one AdamWithMultipliers speeds up.
    names = {v.name for v in likelihood.trainable_variables}
    assert names and names <= set(robust.LIKELIHOOD_LATENTS)
