import math

import numpy as np
import pytest

from keras_recon import losses
from tests.backend_utils import to_numpy
from tests.backend_utils import value_and_grads


@pytest.mark.parametrize("a", [0.0, -1.0, math.inf, math.nan, "100", None])
def test_log_cosh_rejects_bad_a(a):
    with pytest.raises(ValueError, match=r"`a`.*a=" + "(.*)"):
        losses.LogCosh(a=a)
    with pytest.raises(ValueError, match="`a`"):
        losses.log_cosh([[0.0]], [[1.0]], a=a)


@pytest.mark.parametrize("scale", [0.0, -0.5, math.inf])
def test_general_robust_rejects_bad_scale(scale):
    with pytest.raises(ValueError, match=rf"`scale`.*scale={scale}"):
        losses.GeneralRobust(scale=scale)
    with pytest.raises(ValueError, match="`scale`"):
        losses.general_robust([[0.0]], [[1.0]], scale=scale)


def test_general_robust_rejects_nan_alpha():
    with pytest.raises(ValueError, match=r"`alpha`.*alpha=nan"):
        losses.GeneralRobust(alpha=math.nan)


@pytest.mark.parametrize("direction", [0, 3, "backward", True, None, 2.0])
def test_i_divergence_rejects_unknown_direction(direction):
    with pytest.raises(ValueError, match=r"`direction`.*direction="):
        losses.IDivergence(direction=direction)
    with pytest.raises(ValueError, match="`direction`"):
        losses.i_divergence([[1.0]], [[1.0]], direction=direction)


@pytest.mark.parametrize("beta", [math.inf, math.nan, "2"])
def test_beta_divergence_rejects_bad_beta(beta):
    with pytest.raises(ValueError, match=r"`beta`.*beta="):
        losses.BetaDivergence(beta=beta)


@pytest.mark.parametrize("epsilon", [0.0, -1e-7])
def test_divergences_reject_bad_epsilon(epsilon):
    with pytest.raises(ValueError, match=r"`epsilon`.*epsilon="):
        losses.IDivergence(epsilon=epsilon)
    with pytest.raises(ValueError, match=r"`epsilon`.*epsilon="):
        losses.BetaDivergence(epsilon=epsilon)


def test_unknown_sample_reduction():
    with pytest.raises(ValueError, match=r"`sample_reduction`.*'median'"):
        losses.SquaredError(sample_reduction="median")
    with pytest.raises(ValueError, match="`sample_reduction`"):
        losses.log_cosh([[0.0]], [[1.0]], sample_reduction="median")


@pytest.mark.parametrize(
    "cls",
    [
        losses.LogCosh,
        losses.SquaredError,
        losses.AbsoluteError,
        losses.IDivergence,
        losses.BetaDivergence,
        losses.GeneralRobust,
    ],
)
def test_shape_mismatch_names_both_shapes(cls):
    y_true = np.zeros((2, 28, 28, 1), "float32")
    y_pred = np.zeros((2, 784), "float32")
    with pytest.raises(ValueError, match=r"y_true.shape=\(2, 28, 28, 1\).*y_pred.shape=\(2, 784\)"):
        cls()(y_true, y_pred)
    with pytest.raises(ValueError, match="same shape"):
        cls()(np.zeros((2, 5)), np.zeros((2, 6)))


@pytest.mark.parametrize("loss", [losses.IDivergence(), losses.BetaDivergence(beta=0.5)])
def test_divergences_continue_below_zero_with_a_finite_gradient_toward_the_target(loss):
    # Values are never read back to the host; a negative input lies on the
    # continuation below epsilon: a finite, non-negative value, zero at
    # equality, and a gradient that moves the prediction toward the target.
    good = np.full((2, 3), 0.5, "float32")
    bad = good.copy()
    bad[1, 2] = -0.25
    value, (_, grad) = value_and_grads(lambda t, p: loss(t, p), good, bad)
    assert np.isfinite(value) and value > 0
    assert grad[1, 2] < 0 and np.isfinite(grad).all()
    assert float(to_numpy(loss(bad, bad))) == 0.0
