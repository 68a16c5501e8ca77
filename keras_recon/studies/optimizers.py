"""Seed 002: the 784-32-784 autoencoder with MSE and both I-divergences,
ReLU-ReLU and ReLU-Sigmoid, under five optimizers, scored by SSIM."""

import os
import time

import numpy as np

from keras_recon.studies import _common

LOSSES = ("mse", "idiv1", "idiv2")
ACTIVATIONS = ("relu-relu", "relu-sigmoid")
OPTIMIZERS = ("adam", "adagrad", "adadelta", "nadam", "adamax")
LOSS_LABELS = {"mse": "MSE", "idiv1": "I-div 1", "idiv2": "I-div 2"}

# Seed 002's tables: the best SSIM per loss over the five optimizers, and which.
PAPER = {
    "relu-relu": {"mse": (0.795, "Adagrad"), "idiv1": (0.526, "Adamax"), "idiv2": (0.751, "AdaDelta")},
    "relu-sigmoid": {"mse": (0.855, "Adam"), "idiv1": (0.632, "Adamax"), "idiv2": (0.880, "Nadam")},
}


def make_optimizer(name):
    """The optimizer with Keras 2.2's defaults, which the seed (Jan 2019) used.

    Keras 3 lowered several default learning rates (Adagrad 0.01 -> 0.001,
    Adadelta 1.0 -> 0.001, Nadam and Adamax 0.002 -> 0.001); with the new
    Adadelta default the autoencoder barely moves in 50 epochs.
    """
    import keras

    from keras_recon import optimizers

    return {
        "adam": lambda: optimizers.Adam(1e-3),
        "adagrad": lambda: keras.optimizers.Adagrad(1e-2),
        "adadelta": lambda: keras.optimizers.Adadelta(1.0, rho=0.95),
        "nadam": lambda: keras.optimizers.Nadam(2e-3),
        "adamax": lambda: keras.optimizers.Adamax(2e-3),
    }[name]()


def make_loss(name):
    """Each loss averaged over pixels, as the seed did ("implemented as MSE")."""
    from keras_recon import losses

    if name == "mse":
        return losses.SquaredError(sample_reduction="mean")
    return losses.IDivergence(direction=int(name[-1]), sample_reduction="mean")


def run(args):
    import keras

    from keras_recon import metrics
    from keras_recon.callbacks.sample_grid import image_grid
    from keras_recon.callbacks.sample_grid import save_png
    from keras_recon.models import AE
    from keras_recon.models import architectures

    _common.check_resume(args)
    out = _common.run_folder(args.out, "optimizers")
    x, _, x_test, _ = _common.load_dataset(args.dataset, args.data_dir, seed=args.seed, limit=args.train_images)
    held_out = x_test[: args.eval_images]
    print(f"keras-recon optimizers: 784-{args.latent_dim}-784 autoencoder on {args.dataset}, "
          f"{len(x)} training images, SSIM on {len(held_out)} test images, backend "
          f"{keras.backend.backend()}; {len(args.activations) * len(args.losses) * len(args.optimizers)} runs; "
          f"writing {out}")
    units = _common.Units(out, args)
    rows, recons = [held_out[:10]], {}
    for activation in args.activations:
        for loss in args.losses:
            for name in args.optimizers:
                key = f"{activation}/{loss}/{name}"
                finished = units.done(key)
                if finished is None:
                    print(f"--- {key}")
                    keras.utils.set_random_seed(args.seed)
                    output = activation.split("-")[1]
                    model = AE(*architectures.dense_autoencoder(x.shape[1:], args.latent_dim, output))
                    model.compile(optimizer=make_optimizer(name), loss=make_loss(loss))
                    start = time.perf_counter()
                    history = units.train(key, model, x)
                    seconds = time.perf_counter() - start
                    recon = np.clip(_common.to_numpy(model.reconstruct(held_out, batch_size=1000)), 0.0, 1.0)
                    final_loss = float(history["loss"][-1])
                    result = {
                        "activation": activation, "loss": loss, "optimizer": name,
                        "ssim": _common.mean_metric(metrics.ssim, held_out, recon),
                        "mse": float(np.mean((recon - held_out) ** 2)),
                        "final_train_loss": final_loss,
                        "finite": bool(np.isfinite(final_loss)),
                        "train_seconds": seconds,
                    }
                    print(f"    SSIM {result['ssim']:.3f}")
                    units.finish(key, result, {"recon": recon[:10]})
                    recons[key] = recon[:10]
                else:
                    recons[key] = finished[1]["recon"]
    results = units.results
    best = best_per_loss(results)
    for activation, per_loss in best.items():
        for loss, key in per_loss.items():
            rows.append(recons[key])
    save_png(os.path.join(out, "grid_best.png"), image_grid(rows))
    note = _common.machine_note()
    _common.write_json(os.path.join(out, "metrics.json"), {
        "settings": _common.settings(args), "results": results,
        "best": best, "paper": PAPER, "machine": note,
    })
    report = render(args, results, best, note)
    _common.write_text(os.path.join(out, "report.md"), report)
    print("\n" + report)
    print(f"Run folder: {out}")
    return results


def best_per_loss(results):
    best = {}
    for key, r in results.items():
        if not r["finite"]:
            continue
        slot = best.setdefault(r["activation"], {})
        if r["loss"] not in slot or r["ssim"] > results[slot[r["loss"]]]["ssim"]:
            slot[r["loss"]] = key
    return best


def render(args, results, best, note):
    lines = [
        f"# Seed 002: 784-{args.latent_dim}-784 autoencoder, SSIM by loss and optimizer ({args.dataset})",
        "",
        f"{args.epochs} epochs, batch {args.batch_size}, seed {args.seed}, losses averaged over pixels, "
        "optimizers at Keras 2.2's defaults (Adam 1e-3, Adagrad 1e-2, Adadelta 1.0, Nadam 2e-3, "
        f"Adamax 2e-3); SSIM (11x11 Gaussian window, data range 1) of {args.eval_images} test images "
        "against their reconstructions, higher is better.",
        "",
        _common.machine_line(note),
        "",
        "## Best optimizer per loss, beside the paper",
        "",
        "| activations | loss | SSIM (ours) | optimizer (ours) | SSIM (paper) | optimizer (paper) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for activation in args.activations:
        for loss in args.losses:
            key = best.get(activation, {}).get(loss)
            ours = (f"{results[key]['ssim']:.3f}", results[key]["optimizer"]) if key else ("all NaN", "-")
            paper = PAPER.get(activation, {}).get(loss, (float("nan"), "-"))
            lines.append(f"| {activation} | {LOSS_LABELS[loss]} | {ours[0]} | {ours[1]} | {paper[0]:.3f} | {paper[1]} |")
    lines += ["", "## Every run", "",
              "| activations | loss | " + " | ".join(args.optimizers) + " |",
              "| --- | --- | " + " | ".join("---" for _ in args.optimizers) + " |"]
    for activation in args.activations:
        for loss in args.losses:
            cells = []
            for name in args.optimizers:
                r = results[f"{activation}/{loss}/{name}"]
                cells.append(f"{r['ssim']:.3f}" if r["finite"] else "NaN loss")
            lines.append(f"| {activation} | {LOSS_LABELS[loss]} | " + " | ".join(cells) + " |")
    lines += ["", "![test inputs, then the best reconstruction per activation and loss](grid_best.png)", ""]
    return "\n".join(lines)
