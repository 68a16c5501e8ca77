"""Property-based tests (hypothesis): every loss and likelihood, random
shapes of rank 1 to 4, float16 / bfloat16 / float32 / float64 inputs, values
including 0, subnormals, tiny and huge numbers.

Property: a call on finite inputs returns finite values and finite
gradients, or raises a clear `ValueError`. Gradients with respect to half-precision inputs are half precision
themselves and may overflow to +-inf (loss scaling handles that), but are
never NaN. "Huge" means up to 1e4 for half-precision inputs (float16 holds at
most 65504) and up to 1e6 for float32/float64, so the exact results are
representable in the float32 every loss computes in; a separate test feeds
each dtype's largest finite value and requires no NaN (an overflow to inf is
then the correct answer). The number of cases run is printed when pytest
finishes.
"""

import math

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from keras import ops

from keras_recon import likelihoods
from keras_recon import losses
from tests.backend_utils import value_and_grads

CASES = {"count": 0}

DTYPES = ("float16", "bfloat16", "float32", "float64")
SHAPES = ((3,), (1, 4), (2, 3), (2, 1, 3), (3, 2, 2, 1), (1, 2, 3, 2))

# name -> (factory, needs non-negative inputs)
SUBJECTS = {
    "SquaredError": (lambda: losses.SquaredError(), False),
    "AbsoluteError": (lambda: losses.AbsoluteError(), False),
    "LogCosh(a=100)": (lambda: losses.LogCosh(a=100), False),
    "LogCosh(a=100, autodiff)": (lambda: losses.LogCosh(a=100, surrogate_gradient=False), False),
    "IDivergence(1)": (lambda: losses.IDivergence(direction=1), True),
    "IDivergence(2)": (lambda: losses.IDivergence(direction=2), True),
    "BetaDivergence(0.5)": (lambda: losses.BetaDivergence(beta=0.5), True),
    "BetaDivergence(1.5)": (lambda: losses.BetaDivergence(beta=1.5), True),
    "GeneralRobust(0)": (lambda: losses.GeneralRobust(alpha=0.0), False),
    "GeneralRobust(1)": (lambda: losses.GeneralRobust(alpha=1.0), False),
    "GeneralRobust(-inf)": (lambda: losses.GeneralRobust(alpha=-math.inf), False),
    "GeneralRobust(4)": (lambda: losses.GeneralRobust(alpha=4.0, scale=100.0), False),
    "Gaussian(learned)": (lambda: likelihoods.Gaussian(gamma="learned"), False),
    "Gaussian(computed)": (lambda: likelihoods.Gaussian(gamma="computed"), False),
    "Gaussian(optimal)": (lambda: likelihoods.Gaussian(gamma="optimal"), False),
    "Laplace(optimal)": (lambda: likelihoods.Laplace(b="optimal"), False),
    "StudentT": (lambda: likelihoods.StudentT(), False),
    "StudentT(per_element)": (lambda: likelihoods.StudentT(per_element=True), False),
    "Cauchy": (lambda: likelihoods.Cauchy(), False),
    "AdaptiveRobust": (lambda: likelihoods.AdaptiveRobust(), False),
    "GaussianNLL(0.5)": (lambda: likelihoods.GaussianNLL(gamma=0.5), False),
}


@st.composite
def inputs(draw, non_negative, huge_limit=None):
    dtype = draw(st.sampled_from(DTYPES))
    # Ranks 1-4, with axes of size 1, from a few shapes: the properties are
    # about values, and eager JAX compiles every operation afresh for each
    # new shape and dtype (drawing each example's shape, this module took
    # 123 s on JAX; from these, 63 s).
    shape = draw(st.sampled_from(SHAPES))
    info = ml_dtypes.finfo(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.finfo(dtype)
    limit = huge_limit or (1e4 if dtype in ("float16", "bfloat16") else 1e6)
    special = [0.0, float(info.smallest_subnormal), float(info.tiny), 1e-30, 1e-7, 0.5, 1.0, limit]
    size = int(np.prod(shape))

    def values():
        picks = draw(st.lists(
            st.one_of(st.sampled_from(special), st.floats(0.0, limit, allow_nan=False, width=64)),
            min_size=size, max_size=size,
        ))
        signs = [1.0] * size if non_negative else draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=size,
                                                                 max_size=size))
        x = np.array(picks, np.float64) * np.array(signs)
        # Round to the dtype, so the values are what the loss will see.
        np_dtype = ml_dtypes.bfloat16 if dtype == "bfloat16" else dtype
        return x.astype(np_dtype).astype(np.float64).reshape(shape)

    return dtype, values(), values()


def _call(name, dtype):
    subject = SUBJECTS[name][0]()

    def fn(y_true, y_pred):
        return subject(ops.cast(y_true, dtype), ops.cast(y_pred, dtype))

    return fn


def _check(name, dtype, y_true, y_pred, allow_inf=False):
    """Value and gradients of a subject on `(y_true, y_pred)`, or a clear
    `ValueError`. With `allow_inf` (inputs at the end of the float range,
    where the true loss overflows), the value may be `+inf` but is never
    NaN or negative, and each gradient element is never NaN; without it,
    the value is finite and so are the gradients in single and double
    precision. Returns `(value, grads)`, or None after a `ValueError`."""
    CASES["count"] += 1
    fn = _call(name, dtype)
    arrays = (y_true.astype("float32"), y_pred.astype("float32"))
    try:
        value, grads = value_and_grads(fn, *arrays)
    except ValueError as e:
        assert str(e), "a ValueError must say what is wrong"
        clear = ("non-negative", "overflow float32")
        assert SUBJECTS[name][1] and any(c in str(e) for c in clear), f"{name}: unexpected ValueError {e}"
        return None
    value = np.asarray(value, np.float64)
    assert not np.isnan(value).any(), f"{name} {dtype}: NaN value"
    if allow_inf:
        assert (value >= 0).all(), f"{name} {dtype}: negative value {value}"
    else:
        assert np.isfinite(value).all(), f"{name} {dtype}: value {value} for y_true={y_true}, y_pred={y_pred}"
    for g in grads[1:]:
        g = np.asarray(g, np.float64)
        assert not np.isnan(g).any(), f"{name} {dtype}: NaN gradient"
        if dtype in ("float32", "float64") and not allow_inf:
            assert np.isfinite(g).all(), f"{name} {dtype}: infinite gradient"
    return value, grads
        # A gradient with respect to a half-precision input is itself half
        # precision: beyond 65504 (float16) it is +-inf, which
        # keras.mixed_precision's loss scaling detects and skips.


SETTINGS = settings(max_examples=15, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("name", sorted(SUBJECTS))
def test_finite_inputs_give_finite_values_and_gradients_or_a_value_error(name):
    @SETTINGS
    @given(inputs(non_negative=SUBJECTS[name][1]))
    def check(case):
        dtype, y_true, y_pred = case
        _check(name, dtype, y_true, y_pred)

    check()


@pytest.mark.parametrize("name", sorted(SUBJECTS))
def test_negative_inputs_are_a_value_error_or_handled(name):
    # Every subject either accepts signed data or says it needs
    # non-negative data; none returns a silent NaN.
    @SETTINGS
    @given(inputs(non_negative=False))
    def check(case):
        dtype, y_true, y_pred = case
        _check(name, dtype, np.abs(y_true) if not SUBJECTS[name][1] else y_true, y_pred
               if not SUBJECTS[name][1] else -np.abs(y_pred) - 1.0)

    check()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(SUBJECTS))
def test_largest_finite_values_never_give_nan(name, dtype):
    info = ml_dtypes.finfo(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.finfo(dtype)
    big = min(float(info.max), float(np.finfo("float32").max))
    _check(name, dtype, np.array([[0.0, big]]), np.array([[big, 0.0]]), allow_inf=True)
    # Beside a pair that matches at the top of the range, an ordinary error
    # stays finite, and its gradient pushes the prediction toward the target.
    result = _check(name, dtype, np.array([[big, 0.0]]), np.array([[big, 1.0]]), allow_inf=True)
    if result is not None:
        value, (_, grad_pred) = result
        assert np.isfinite(value).all(), f"{name} {dtype}: {value} at (big, big), (0, 1)"
        assert np.asarray(grad_pred, np.float64)[0, 1] > 0, f"{name} {dtype}: gradient at (0, 1)"


