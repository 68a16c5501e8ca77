import keras
import numpy as np
import pytest

from keras_recon.optimizers import Adam
from keras_recon.optimizers.adam_with_multipliers import AdamWithMultipliers


def _run(optimizer, names, steps=5):
    """Applies `steps` fixed gradients to variables named `names`."""
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=(3, 4)).astype("float32"), name=n) for n in names]
    grads = [[rng.normal(size=(3, 4)).astype("float32") for _ in names] for _ in range(steps)]
    optimizer.build(variables)
    for g in grads:
        optimizer.apply([keras.ops.convert_to_tensor(x) for x in g], variables)
    return [keras.ops.convert_to_numpy(v) for v in variables]


def test_each_named_variable_takes_adam_steps_at_its_multiplied_rate():
    fast, slow = _run(AdamWithMultipliers(1e-2, multipliers={"fast": 10.0}), ["fast", "slow"])
    # Reference: Keras's Adam at each variable's own learning rate.
    fast_ref, _ = _run(Adam(1e-1), ["fast", "slow"])
    _, slow_ref = _run(Adam(1e-2), ["fast", "slow"])
    np.testing.assert_allclose(fast, fast_ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(slow, slow_ref, rtol=1e-6, atol=1e-6)
    assert not np.allclose(fast, _run(Adam(1e-2), ["fast", "slow"])[0], atol=1e-3)


def test_no_multipliers_is_adam():
    for got, want in zip(_run(AdamWithMultipliers(1e-3), ["a", "b"]), _run(Adam(1e-3), ["a", "b"])):
        np.testing.assert_array_equal(got, want)


def test_config_round_trip():
    optimizer = AdamWithMultipliers(2e-3, multipliers={"alpha_latent": 10.0}, beta_1=0.8)
    restored = AdamWithMultipliers.from_config(optimizer.get_config())
    assert restored.multipliers == {"alpha_latent": 10.0}
    assert restored.beta_1 == pytest.approx(0.8)
    assert keras.optimizers.deserialize(keras.optimizers.serialize(optimizer)).multipliers == optimizer.multipliers


@pytest.mark.parametrize("factor", [0.0, -1.0, float("inf"), True, "10"])
def test_rejects_bad_multipliers(factor):
    with pytest.raises(ValueError, match="positive finite"):
        AdamWithMultipliers(multipliers={"alpha_latent": factor})
