import json
import os

import numpy as np
import pytest

from keras_recon import cli


def test_compare_writes_the_whole_run_folder(tmp_path, monkeypatch, classifier_cache):
    monkeypatch.setenv("KERAS_RECON_CACHE", classifier_cache)
    out = tmp_path / "run"
    cli.main([
        # 600 training images, as every run sharing `classifier_cache`: one
        # classifier for all of them.
        "compare", "--epochs", "1", "--train-images", "600", "--classifier-epochs", "1", "--eval-images", "100",
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
        (["optimizers", "--optimizers", "adam,sgd"], "unknown choice 'sgd'"),
        (["balance", "--gammas", "tuned"], "unknown choice 'tuned'"),
        (["balance", "--second-stage-epochs", "-1"], "--second-stage-epochs must be"),
        (["robust", "--representations", "fourier"], "unknown choice 'fourier'"),
        (["robust", "--dataset", "imagenet"], "invalid choice"),
    ],
)
def test_bad_flags_are_clear_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_optimizers_study_writes_its_tables(tmp_path):
    out = tmp_path / "opt"
    cli.main([
        "optimizers", "--epochs", "1", "--train-images", "512", "--eval-images", "50",
        "--losses", "mse,idiv2", "--activations", "relu-sigmoid", "--optimizers", "adam,adadelta",
        "--out", str(out),
    ])
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["results"]) == {
        "relu-sigmoid/mse/adam", "relu-sigmoid/mse/adadelta",
        "relu-sigmoid/idiv2/adam", "relu-sigmoid/idiv2/adadelta",
    }
    best = metrics["best"]["relu-sigmoid"]["mse"]
    assert metrics["results"][best]["ssim"] == max(
        r["ssim"] for k, r in metrics["results"].items() if "/mse/" in k
    )
    report = (out / "report.md").read_text()
    assert "| relu-sigmoid | I-div 2 |" in report and "0.880 | Nadam |" in report
    assert (out / "grid_best.png").exists()


def test_balance_study_with_second_stage(tmp_path, monkeypatch, classifier_cache):
    monkeypatch.setenv("KERAS_RECON_CACHE", classifier_cache)
    out = tmp_path / "bal"
    cli.main([
        "balance", "--epochs", "1", "--train-images", "600", "--eval-images", "100",
        "--classifier-epochs", "1", "--second-stage-epochs", "1", "--gammas", "fixed,computed",
        "--out", str(out),
    ])
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["results"]) == {"fixed", "computed"}
    for r in metrics["results"].values():
        assert {"fid_reconstructed", "fid_generated_first_stage", "fid_generated_second_stage",
                "mse", "variance_law", "inactive_latents", "final_gamma"} <= set(r)
    assert metrics["results"]["fixed"]["final_gamma"] == 1.0
    # Six steps of the running minimum from 1 can only lower gamma.
    assert metrics["results"]["computed"]["final_gamma"] < 1.0
    assert "| computed |" in (out / "report.md").read_text()


def test_robust_study_compares_distributions_and_representations(tmp_path):
    out = tmp_path / "rob"
    cli.main([
        "robust", "--epochs", "2", "--eval-every", "1", "--min-window", "1", "--train-images", "200",
        "--eval-images", "50", "--distributions", "normal,student", "--representations", "dct",
        "--out", str(out),
    ])
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["results"]) == {"dct/normal", "dct/student"}
    for r in metrics["results"].values():
        assert np.isfinite(r["validation_elbo"])
        steps = [p["step"] for p in r["curve"]]
        assert steps[0] == 0 and steps == sorted(steps) and steps[-1] == r["last_step"]
        # The kept weights are those of the best validation ELBO on the curve.
        best = max(r["curve"], key=lambda p: p["elbo"])
        assert r["best_step"] == best["step"]
        assert r["validation_elbo"] == pytest.approx(best["elbo"], rel=1e-5, abs=1e-2)
    assert metrics["results"]["dct/student"]["shape"]["name"] == "dof"
    report = (out / "report.md").read_text()
    assert "Ordering on dct" in report and "| pixels |" not in report
    assert (out / "training_curves.png").exists()
    # --report-only trains nothing and lists what is missing.
    cli.main(["robust", "--report-only", "--train-images", "200", "--eval-images", "50", "--out", str(out)])
    report = (out / "report.md").read_text()
    assert "| pixels | Cauchy | not run |" in report and "| dct + GREY | Student's t |" in report
