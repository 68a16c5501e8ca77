"""Haruguchi's I-divergence autoencoder study: the 784-32-784 autoencoder
with the MSE and both I-divergences, ReLU-ReLU and ReLU-Sigmoid, under five
optimizers, scored by SSIM.

The thesis (Takuma Haruguchi, "Autoencoder with New Loss Functions",
thesis supervised by Shuxue Ding, 2019) ran Keras (TensorFlow backend, January 2019: Keras 2.2)
with each optimizer at its defaults. Every optimizer here follows Keras
2.2.4's `keras/optimizers.py` with those defaults (`decay = 0` for all,
epsilon `K.epsilon() = 1e-7`, every slot starting at 0, `t` the step
number from 1):

```python
# Adam(lr=0.001, beta_1=0.9, beta_2=0.999): Keras 3's Adam computes this.
lr_t = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
m = beta_1 * m + (1 - beta_1) * g
v = beta_2 * v + (1 - beta_2) * g**2
w = w - lr_t * m / (sqrt(v) + epsilon)

# Adagrad(lr=0.01): Keras22Adagrad. Keras 3 starts `a` at 0.1 and divides
# by sqrt(a + epsilon); no argument gives epsilon outside the root.
a = a + g**2
w = w - lr * g / (sqrt(a) + epsilon)

# Adadelta(lr=1.0, rho=0.95): Keras 3's Adadelta computes this.
a = rho * a + (1 - rho) * g**2
update = g * sqrt(d + epsilon) / sqrt(a + epsilon)
w = w - lr * update
d = rho * d + (1 - rho) * update**2

# Nadam(lr=0.002, beta_1=0.9, beta_2=0.999, schedule_decay=0.004):
# Keras22Nadam. Keras 3 warms the momentum up with 0.96**t instead.
mu_t = beta_1 * (1 - 0.5 * 0.96**(t * schedule_decay))
mu_next = beta_1 * (1 - 0.5 * 0.96**((t + 1) * schedule_decay))
m_schedule_new = m_schedule * mu_t          # m_schedule starts at 1
m_schedule_next = m_schedule_new * mu_next
m = beta_1 * m + (1 - beta_1) * g
v = beta_2 * v + (1 - beta_2) * g**2
m_bar = (1 - mu_t) * g / (1 - m_schedule_new) + mu_next * m / (1 - m_schedule_next)
w = w - lr * m_bar / (sqrt(v / (1 - beta_2**t)) + epsilon)
m_schedule = m_schedule_new

# Adamax(lr=0.002, beta_1=0.9, beta_2=0.999): Keras 3's Adamax computes this.
m = beta_1 * m + (1 - beta_1) * g
u = max(beta_2 * u, |g|)
w = w - lr / (1 - beta_1**t) * m / (u + epsilon)
```

Keras 3's defaults differ from these in learning rate (Adagrad, Adadelta,
Nadam, Adamax: 0.001) as well; `make_optimizer` passes every value.
`tests/test_optimizers.py` checks each optimizer against a NumPy copy of
its rule above on every backend.
"""

import os
import time

import numpy as np

from keras_recon.studies import _common

LOSSES = ("mse", "idiv1", "idiv2")
ACTIVATIONS = ("relu-relu", "relu-sigmoid")
OPTIMIZERS = ("adam", "adagrad", "adadelta", "nadam", "adamax")
LOSS_LABELS = {"mse": "MSE", "idiv1": "I-div 1", "idiv2": "I-div 2"}

# The thesis's tables: the best SSIM per loss over the five optimizers, and which.
PAPER = {
    "relu-relu": {"mse": (0.795, "Adagrad"), "idiv1": (0.526, "Adamax"), "idiv2": (0.751, "AdaDelta")},
    "relu-sigmoid": {"mse": (0.855, "Adam"), "idiv1": (0.632, "Adamax"), "idiv2": (0.880, "Nadam")},
}


def make_optimizer(name):
    """The optimizer with Keras 2.2's semantics, which the thesis (Keras with
    TensorFlow, January 2019) ran at its defaults.

    Adam, Adadelta and Adamax are Keras 3's own with Keras 2.2's arguments
    (their update rules are Keras 2.2's); Adagrad and Nadam are Keras 2.2's
    rules (`keras_recon.optimizers.Keras22Adagrad`, `Keras22Nadam`), which
    no Keras 3 argument reproduces. The rules are in this module's
    docstring.
    """
    import keras

    from keras_recon import optimizers

    return {
        "adam": lambda: optimizers.Adam(1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
        "adagrad": lambda: optimizers.Keras22Adagrad(1e-2, epsilon=1e-7),
        "adadelta": lambda: keras.optimizers.Adadelta(1.0, rho=0.95, epsilon=1e-7),
        "nadam": lambda: optimizers.Keras22Nadam(2e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                                                 schedule_decay=0.004),
        "adamax": lambda: keras.optimizers.Adamax(2e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
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
    part = _common.evaluation_part(held_out)
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
                    # Each process scores its part of the test images; the
                    # means are merged.
                    recon = np.clip(_common.to_numpy(model.reconstruct(part, batch_size=1000)), 0.0, 1.0)
                    final_loss = float(history["loss"][-1])
                    result = {
                        "activation": activation, "loss": loss, "optimizer": name,
                        "ssim": _common.merged_mean(metrics.ssim(part, recon)),
                        "mse": _common.merged_mean((recon - part) ** 2),
                        "final_train_loss": final_loss,
                        "train_loss_per_epoch": [float(v) for v in history["loss"]],
                        "finite": bool(np.isfinite(final_loss)),
                        "train_seconds": seconds,
                    }
                    print(f"    SSIM {result['ssim']:.3f}")
                    first = np.clip(_common.to_numpy(model.reconstruct(held_out[:10])), 0.0, 1.0)
                    units.finish(key, result, {"recon": first})
                    recons[key] = first
                else:
                    recons[key] = finished[1]["recon"]
    results = units.results
    best = best_per_loss(results)
    for activation, per_loss in best.items():
        for loss, key in per_loss.items():
            rows.append(recons[key])
    _common.save_figure_rows(os.path.join(out, "grid_best.png"), rows)
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
        f"# I-divergence autoencoder: 784-{args.latent_dim}-784, SSIM by loss and optimizer ({args.dataset})",
        "",
        f"{args.epochs} epochs, batch {args.batch_size}, seed {args.seed}, losses averaged over pixels, "
        "optimizers with Keras 2.2's update rules and defaults (Adam 1e-3; Adagrad 1e-2, accumulators "
        "from 0, epsilon outside the root; Adadelta 1.0, rho 0.95; Nadam 2e-3, schedule_decay 0.004; "
        "Adamax 2e-3; epsilon 1e-7, no decay); "
        f"SSIM (11x11 Gaussian window, data range 1) of {args.eval_images} test images "
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
    lines += ["", "## Final training loss (per pixel) of every run", "",
              "| activations | loss | " + " | ".join(args.optimizers) + " |",
              "| --- | --- | " + " | ".join("---" for _ in args.optimizers) + " |"]
    for activation in args.activations:
        for loss in args.losses:
            cells = [f"{results[f'{activation}/{loss}/{name}']['final_train_loss']:.4g}" for name in args.optimizers]
            lines.append(f"| {activation} | {LOSS_LABELS[loss]} | " + " | ".join(cells) + " |")
    lines += ["", "![test inputs, then the best reconstruction per activation and loss](grid_best.png)", ""]
    return "\n".join(lines)
