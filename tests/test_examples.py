"""Every script in examples/ runs for one short epoch on the current backend."""

import os
import runpy
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "examples")


@pytest.mark.parametrize(
    "script,extra",
    [
        ("logcosh_autoencoder.py", []),
        ("vae_gamma_balancer.py", ["--out", "{tmp}"]),
        ("wae_logcosh.py", []),
        ("adaptive_robust_vae.py", ["--out", "{tmp}"]),
    ],
)
def test_example_runs_one_short_epoch(script, extra, tmp_path, monkeypatch, capsys):
    argv = [script, "--epochs", "1", "--limit", "300"] + [a.format(tmp=tmp_path) for a in extra]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(os.path.join(EXAMPLES, script), run_name="__main__")
    out = capsys.readouterr().out
    assert "nan" not in out.lower()
    if "--out" in extra:
        assert os.listdir(tmp_path), f"{script} wrote nothing"


def test_examples_are_all_tested():
    tested = {"logcosh_autoencoder.py", "vae_gamma_balancer.py", "wae_logcosh.py", "adaptive_robust_vae.py"}
    assert {f for f in os.listdir(EXAMPLES) if f.endswith(".py")} == tested
