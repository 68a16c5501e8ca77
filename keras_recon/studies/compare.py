"""Log-cosh against the squared and absolute errors: one VAE or WAE per
reconstruction loss on MNIST, compared by sharpness, FID, SSIM and MSE
(Chen et al., "Log Hyperbolic Cosine Loss Improves Variational
Auto-Encoder", 2019)."""

import os
import sys
import time

from keras_recon.studies import _common


def _load(args):
    return _common.load_dataset(args.dataset, args.data_dir, seed=args.seed, limit=args.train_images)


def _loss(name, a):
    from keras_recon import losses

    return {"l2": losses.SquaredError, "l1": losses.AbsoluteError}.get(name, lambda: losses.LogCosh(a=a))()


def _label(name, a):
    return {"l2": "squared L2", "l1": "L1"}.get(name, f"log-cosh a={a:g}")


def run(args):
    import keras

    from keras_recon import distributed
    from keras_recon import metrics
    from keras_recon import optimizers
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
    # Each process measures its part of the held-out images (and of the
    # samples, drawn alike on every process); the figures are merged.
    part = _common.evaluation_part(held_out)
    real_stats = _common.merged_statistics(fid, part)

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
            # Every process evaluates all of them: the KL (or MMD) is that
            # of the whole set on one process or several.
            evaluation = model.evaluate(held_out, batch_size=args.batch_size, verbose=0, return_dict=True)
            recon = _common.to_numpy(model.reconstruct(part, batch_size=500))
            samples = _common.to_numpy(model.sample(n, seed=args.seed + 1))
            samples_part = _common.evaluation_part(samples)
            term = "kl" if args.model == "vae" else "mmd"
            result = {
                "sharpness_reconstructed": _common.merged_mean(metrics.sharpness(recon)),
                "sharpness_generated": _common.merged_mean(metrics.sharpness(samples_part)),
                "fid_generated": fid.distance(real_stats, _common.merged_statistics(fid, samples_part)),
                "ssim_reconstructed": _common.merged_mean(metrics.ssim(part, recon)),
                "mse_reconstructed": _common.merged_mean((recon - part) ** 2),
                term: float(evaluation[term]),
                "train_seconds": seconds,
                "curves": history,
            }
            _common.save_model(model, os.path.join(out, f"model_{safe}.keras"))
            images = {"recon": _common.to_numpy(model.reconstruct(held_out[:10])), "samples": samples[:10]}
            _common.save_figure_rows(os.path.join(out, f"grid_{safe}.png"),
                                     [held_out[:10], images["recon"], images["samples"]])
            units.finish(label, result, images)
        else:
            result, images = finished
        curves[label] = result["curves"]
        rows += [images["recon"], images["samples"]]
    results = {label: {k: v for k, v in r.items() if k != "curves"} for label, r in units.results.items()}

    _common.save_figure_rows(os.path.join(out, "grid_all.png"), rows)
    if distributed.is_writer():
        _plot_curves(os.path.join(out, "training_curves.png"), curves)
    input_sharpness = _common.merged_mean(metrics.sharpness(part))
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
        "Changes are against squared L2, as in Chen et al.'s tables.",
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
