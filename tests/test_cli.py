import json
import os

import pytest

from keras_recon import cli


def test_compare_writes_the_whole_run_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_RECON_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run"
    cli.main([
        "compare", "--epochs", "1", "--classifier-epochs", "1", "--eval-images", "100",
        "--losses", "l2,logcosh:a=10", "--out", str(out),
    ])
    names = set(os.listdir(out))
    assert {"report.md", "metrics.json", "grid_all.png", "training_curves.png"} <= names
    assert {"model_squared_L2.keras", "model_log-cosh_a10.keras"} <= names
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["results"]) == {"squared L2", "log-cosh a=10"}
    for row in metrics["results"].values():
        assert {"sharpness_reconstructed", "sharpness_generated", "fid_generated", "ssim_reconstructed", "kl"} <= set(row)
    report = (out / "report.md").read_text()
    assert "| log-cosh a=10 |" in report and "%)" in report
    assert not any(n.endswith(".tmp") for n in names)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["compare", "--losses", "l3"], "unknown loss 'l3'"),
        (["compare", "--losses", "logcosh:a=-1"], "bad log-cosh parameter"),
        (["compare", "--epochs", "0"], "must be a positive integer"),
        (["compare", "--model", "gan"], "invalid choice"),
    ],
)
def test_bad_flags_are_clear_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
