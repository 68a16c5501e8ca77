"""XLA's LLVM optimisation level does not change what the losses compute.

`make test` compiles XLA with `--xla_backend_optimization_level=0` (the
suite's small models spend most of their time compiling); users and the
benchmarks run at XLA's default. Every loss of the cross-backend cases and
the `AdaptiveRobust` likelihood, compiled, with the gradient in `y_pred`,
must agree between the two levels as closely as the backends agree with
each other (`test_cross_backend.py`). This process computes at its own
level and one subprocess at the other.
"""

import os

import pytest

from tests import cross_backend_script
from tests.backend_utils import BACKEND

LEVEL = "--xla_backend_optimization_level"

pytestmark = pytest.mark.skipif(BACKEND == "torch", reason="PyTorch does not compile with XLA")


def _other_level_flags():
    """XLA_FLAGS for the other level: without a level flag if this process
    runs at level 0, else with level 0."""
    flags = os.environ.get("XLA_FLAGS", "").split()
    others = [f for f in flags if not f.startswith(LEVEL)]
    if f"{LEVEL}=0" not in flags:
        others.append(f"{LEVEL}=0")
    return " ".join(others)


def test_compiled_losses_agree_across_xla_optimisation_levels():
    flags = _other_level_flags()
    there = cross_backend_script.run_in_subprocess(BACKEND, compiled=True, XLA_FLAGS=flags)
    here = cross_backend_script.compute(compiled=True)
    assert "adaptive_robust" in here
    cross_backend_script.assert_agree(here, there, f"this process against XLA_FLAGS={flags!r}")
