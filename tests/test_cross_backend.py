"""The same inputs give the same losses and gradients on every backend."""

import os

import pytest

from tests import cross_backend_script
from tests.backend_utils import BACKEND

# Each backend's suite compares with the next one in this cycle, so the
# three suites compare every pair once (tensorflow-jax, jax-torch,
# torch-tensorflow) and each starts one other backend's process, not two.
# `KERAS_RECON_CROSS_BACKEND=all` compares this backend with both others.
CYCLE = ("tensorflow", "jax", "torch")
if os.environ.get("KERAS_RECON_CROSS_BACKEND") == "all":
    OTHERS = [b for b in CYCLE if b != BACKEND]
else:
    OTHERS = [CYCLE[(CYCLE.index(BACKEND) + 1) % len(CYCLE)]]


@pytest.mark.parametrize("other", OTHERS)
def test_losses_agree_with_other_backend_to_1e_6(other):
    here = cross_backend_script.compute()
    there = cross_backend_script.run_in_subprocess(other)
    cross_backend_script.assert_agree(here, there, f"{BACKEND} vs {other}")
