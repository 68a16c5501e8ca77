"""Barron's VAE experiment: the decoder distribution Normal, Cauchy,
Student's t or Barron's adaptive one, on pixels + RGB, DCT + YUV and
CDF 9/7 wavelet + YUV coefficients.

Every distribution has one learned scale per coefficient (and one shape:
alpha for the adaptive one, degrees of freedom for Student's t). The
study's defaults are the paper's: `alpha = 3 sigmoid(l)` (alpha in [0, 3])
and `c = softplus(l) + 1e-8`. Two choices of ours let it converge on a
CPU budget: the scales start at the training set's per-coefficient
standard deviation in the representation, and the likelihood's latents
learn `--likelihood-lr-multiplier` times faster than the network
(`AdamWithMultipliers`). Each run records the validation ELBO and the
quartiles of its shape and scale every `--eval-every` epochs, stops by
the rule of `improvement` and `stop_window` (the validation ELBO has
stopped rising) and keeps the weights of its best validation ELBO.
`--resume` skips finished runs; an unfinished one starts again. Runs
train with Keras's shuffle; where several processes each feed their share
of every global batch (JAX), on `data.ImageBatches` ordered from `--seed`
instead, so the order differs from one process's.
"""

import math
import os
import time

import numpy as np

from keras_recon.studies import _common

DISTRIBUTIONS = ("normal", "cauchy", "student", "adaptive")
REPRESENTATIONS = ("pixels", "dct", "wavelet")
COLORS = ("paper", "rgb", "yuv")
LABELS = {"normal": "Normal", "cauchy": "Cauchy", "student": "Student's t", "adaptive": "adaptive"}
# The paper's colour space for each representation (its table's rows).
PAPER_COLOR = {"pixels": "rgb", "dct": "yuv", "wavelet": "yuv"}
# Barron (2019), the VAE table: validation ELBO (higher is better) on
# 64x64 CelebA, nats per image.
PAPER_ELBO = {
    "pixels": {"normal": 8662, "cauchy": 9602, "student": 10177, "adaptive": 10240},
    "dct": {"normal": 31837, "cauchy": 31295, "student": 32804, "adaptive": 32806},
    "wavelet": {"normal": 31505, "cauchy": 35779, "student": 36373, "adaptive": 36316},
}
PAPER_DIMS = 64 * 64 * 3
# The likelihoods' latent variables (by name): the ones the multiplier speeds up.
LIKELIHOOD_LATENTS = ("alpha_latent", "scale_latent", "log_scale", "log_dof")
# Images per validation-ELBO batch, each with its own noise seed.
ELBO_BATCH = 500
# The stopping rule: the validation ELBO changed by less than this fraction
# of itself over the last tenth of the steps.
TOLERANCE = 1e-3


def color_for(representation, color, channels):
    """The colour space a representation is modelled in."""
    if channels != 3:
        return "rgb"  # grey images: no colour transform
    return PAPER_COLOR[representation] if color == "paper" else color


def make_likelihood(distribution, representation, color, alpha_range=(0.0, 3.0), scale_min=1e-8):
    """Every distribution with one learned scale (and shape) per coefficient.

    Normal and adaptive are `AdaptiveRobust` (alpha fixed at 2, or in
    `alpha_range`) with `c = softplus(l) + scale_min`; Cauchy and
    Student's t learn `log c` (and `log dof`, starting at 1: Cauchy).
    """
    from keras_recon.likelihoods import AdaptiveRobust
    from keras_recon.likelihoods import Cauchy
    from keras_recon.likelihoods import StudentT

    where = {"representation": representation, "color": color}
    if distribution == "normal":
        return AdaptiveRobust(alpha_lo=2.0, alpha_hi=2.0, scale_lo=scale_min, scale_init=1.0, **where)
    if distribution == "cauchy":
        return Cauchy(per_element=True, **where)
    if distribution == "student":
        return StudentT(per_element=True, **where)
    lo, hi = alpha_range
    return AdaptiveRobust(alpha_lo=lo, alpha_hi=hi, scale_lo=scale_min, scale_init=1.0, **where)


def coefficient_spread(x, representation, color, batch=500):
    """Per-coefficient standard deviation of `x` in the representation."""
    from keras import ops

    from keras_recon.likelihoods.representations import represent

    total = total_sq = 0.0
    for i in range(0, len(x), batch):
        c = _common.to_numpy(represent(ops.convert_to_tensor(x[i : i + batch]), representation, color))
        c = c.astype("float64")
        total = total + c.sum(0)
        total_sq = total_sq + (c * c).sum(0)
    mean = total / len(x)
    return np.sqrt(np.maximum(total_sq / len(x) - mean * mean, 0.0))


def set_scales(likelihood, spread):
    """Starts each coefficient's scale at `spread` (floored at 1e-6)."""
    from keras_recon.likelihoods import AdaptiveRobust

    spread = np.maximum(spread, 1e-6)
    if isinstance(likelihood, AdaptiveRobust):
        gap = np.maximum(spread - likelihood.scale_lo, 1e-12)
        latent = gap + np.log(-np.expm1(-gap))  # inverse softplus
        likelihood.scale_latent.assign(latent.reshape(likelihood.scale_latent.shape).astype("float32"))
    else:
        likelihood.log_scale.assign(np.log(spread).reshape(likelihood.log_scale.shape).astype("float32"))


def shape_and_scale(likelihood):
    """`(shape name or None, shape values, scale values)`, flat NumPy arrays."""
    from keras_recon.likelihoods import AdaptiveRobust

    if isinstance(likelihood, AdaptiveRobust):
        name = "alpha" if likelihood.alpha_lo < likelihood.alpha_hi else None
        shape = _common.to_numpy(likelihood.alpha()).ravel() if name else None
        return name, shape, _common.to_numpy(likelihood.scale()).ravel()
    if hasattr(likelihood, "current_dof"):
        return "dof", _common.to_numpy(likelihood.current_dof()).ravel(), \
            _common.to_numpy(likelihood.current_scale()).ravel()
    return None, None, _common.to_numpy(likelihood.current_scale()).ravel()


def _quartiles(values):
    q = np.percentile(values, [0, 25, 50, 75, 100])
    return {"min": float(q[0]), "q1": float(q[1]), "median": float(q[2]), "q3": float(q[3]), "max": float(q[4])}


def validation_elbo(model, held_out, seed):
    """Per-image ELBO (nats) of this process's part of `held_out`, one
    posterior sample each, with the same noise at every call.

    The noise of each batch of `ELBO_BATCH` images is drawn from `seed`
    plus the batch's first row, so processes take whole batches
    (`_common.evaluation_part`) and each image's ELBO is the one a lone
    process computes; merge with `_common.merged_mean`.
    """
    start, stop = _common.evaluation_rows(len(held_out), ELBO_BATCH)
    return -np.concatenate([np.zeros(0, np.float32)] + [
        _common.to_numpy(model.negative_elbo(held_out[i : min(i + ELBO_BATCH, stop)], seed=seed + i))
        for i in range(start, stop, ELBO_BATCH)
    ])


def improvement(curve, step, window):
    """How much the best validation ELBO up to `step` exceeds the best up
    to `step - window`, as a fraction of the former; `None` if no
    evaluation lies at or before `step - window`."""
    now = [p["elbo"] for p in curve if p["step"] <= step]
    before = [p["elbo"] for p in curve if p["step"] <= step - window]
    if not now or not before:
        return None
    return (max(now) - max(before)) / abs(max(now))


def stop_window(step, min_window):
    """The stopping rule's window at `step`: its last tenth, at least `min_window` steps."""
    return max(0.1 * step, min_window)


def _monitor_class():
    import keras

    class Monitor(keras.callbacks.Callback):
        """Every `every` epochs: the validation ELBO and the quartiles of
        the shape and the scale, kept in `curve` (and written to `path`).
        Stops training by the rule (`improvement` over `stop_window` below
        `tolerance`) and puts back the weights of the best validation
        ELBO at the end."""

        def __init__(self, likelihood, held_out, seed, every, steps_per_epoch, path, tolerance, min_window):
            super().__init__()
            self.likelihood, self.held_out, self.seed = likelihood, held_out, seed
            self.every, self.steps_per_epoch, self.path = every, steps_per_epoch, path
            self.tolerance, self.min_window = tolerance, min_window
            self.curve, self.best, self.best_weights, self.stopped_at = [], None, None, None

        def _record(self, step, train_loss=None):
            _, shape, scale = shape_and_scale(self.likelihood)
            elbo = _common.merged_mean(validation_elbo(self.model, self.held_out, self.seed))
            point = {"step": int(step), "elbo": elbo, "scale": _quartiles(scale)}
            if shape is not None:
                point["shape"] = _quartiles(shape)
            if train_loss is not None:
                point["train_loss"] = float(train_loss)
            self.curve.append(point)
            _common.write_json(self.path, self.curve)
            if not math.isfinite(elbo):
                self.model.stop_training = True
            elif self.best is None or elbo > self.best["elbo"]:
                self.best, self.best_weights = point, self.model.get_weights()

        def on_train_begin(self, logs=None):
            self._record(0)

        def on_epoch_end(self, epoch, logs=None):
            if (epoch + 1) % self.every:
                return
            step = (epoch + 1) * self.steps_per_epoch
            self._record(step, (logs or {}).get("loss"))
            gain = improvement(self.curve, step, stop_window(step, self.min_window))
            if gain is not None and gain < self.tolerance:
                self.stopped_at = step
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    return Monitor


def run(args):
    import keras

    from keras_recon import data
    from keras_recon import distributed
    from keras_recon.models import VAE
    from keras_recon.models import architectures
    from keras_recon.optimizers.adam_with_multipliers import AdamWithMultipliers

    if args.report_only:
        args.resume = True
    _common.check_resume(args)
    if not 0.0 <= args.alpha_range[0] < args.alpha_range[1]:
        raise SystemExit(f"keras-recon robust: --alpha-range needs 0 <= lo < hi, got {args.alpha_range}")
    out = _common.run_folder(args.out, "robust")
    x, _, x_test, _ = _common.load_dataset(args.dataset, args.data_dir, seed=args.seed,
                                           limit=args.train_images, size=args.image_size)
    held_out = x_test[: args.eval_images]
    steps_per_epoch = math.ceil(len(x) / args.batch_size)
    print(f"keras-recon robust: VAE (mlp, latent {args.latent_dim}) on {args.dataset} {x.shape[1:]}, "
          f"{len(x)} training images, {len(held_out)} validation images, {args.epochs} epochs = "
          f"{args.epochs * steps_per_epoch} steps, backend {keras.backend.backend()}; writing {out}")
    units = _common.Units(out, args)
    note = _common.machine_note()
    multipliers = {name: args.likelihood_lr_multiplier for name in LIKELIHOOD_LATENTS}
    rows = [held_out[:10]]
    for representation in args.representations:
        color = color_for(representation, args.color, x.shape[-1])
        spread = coefficient_spread(x, representation, color) if args.scale_init == "data" else None
        for distribution in args.distributions:
            key = f"{representation}/{distribution}"
            finished = units.done(key)
            if finished is not None:
                rows += [finished[1]["recon"], finished[1]["samples"]]
                continue
            if args.report_only:
                print(f"--- {key}: not finished, left out of the report")
                continue
            print(f"--- {key} ({color})")
            keras.utils.set_random_seed(args.seed)
            likelihood = make_likelihood(distribution, representation, color, tuple(args.alpha_range),
                                         args.scale_min)
            model = VAE(*architectures.mlp(x.shape[1:], args.latent_dim), likelihood=likelihood, seed=args.seed)
            model.compile(optimizer=AdamWithMultipliers(args.lr, multipliers=multipliers))
            model(x[:1])
            if spread is not None:
                set_scales(likelihood, spread)
            monitor = _monitor_class()(likelihood, held_out, args.seed, args.eval_every, steps_per_epoch,
                                       os.path.join(units.dir, _common.safe_name(key) + ".curve.json"),
                                       TOLERANCE, args.min_window)
            start = time.perf_counter()
            if distributed.feeds_share():
                # Each process feeds its share of the same seeded global
                # batches (Keras's own shuffle would give every process the
                # same whole batches).
                model.fit(data.ImageBatches(x, batch_size=args.batch_size, seed=args.seed),
                          epochs=args.epochs, verbose=0, callbacks=[monitor])
            else:
                model.fit(x, batch_size=args.batch_size, epochs=args.epochs, shuffle=True, verbose=0,
                          callbacks=[monitor])
            seconds = time.perf_counter() - start
            if not all(math.isfinite(p["elbo"]) for p in monitor.curve):
                raise SystemExit(f"keras-recon robust: {key}: the validation ELBO became NaN or infinite "
                                 f"(curve in {monitor.path})")
            # Each process measures its part of the validation images; the
            # figures are merged.
            elbo = validation_elbo(model, held_out, args.seed)
            elbo_mean = _common.merged_mean(elbo)
            part = _common.evaluation_part(held_out)
            recon = np.clip(_common.to_numpy(model.reconstruct(part, batch_size=500)), 0, 1)
            samples = _common.to_numpy(model.sample(10, seed=args.seed + 1))
            shape_name, shape, scale = shape_and_scale(likelihood)
            dims = int(np.prod(x.shape[1:]))
            r = {
                "color": color if x.shape[-1] == 3 else "grey",
                "validation_elbo": elbo_mean,
                "validation_elbo_sem": _common.merged_std(elbo, elbo_mean) / math.sqrt(len(held_out)),
                "bits_per_dim": -elbo_mean / (dims * math.log(2.0)),
                "mse": _common.merged_mean((recon - part) ** 2),
                "scale": _quartiles(scale),
                "curve": monitor.curve,
                "best_step": monitor.best["step"],
                "last_step": monitor.curve[-1]["step"],
                "max_steps": args.epochs * steps_per_epoch,
                "converged": monitor.stopped_at is not None,
                "train_seconds": seconds,
                "command": note["command"],
            }
            if shape_name:
                r["shape"] = {"name": shape_name, **_quartiles(shape)}
            first = np.clip(_common.to_numpy(model.reconstruct(held_out[:10])), 0, 1)
            units.finish(key, r, {"recon": first, "samples": samples})
            rows += [first, samples]
            print(f"    validation ELBO {r['validation_elbo']:.1f} nats/image at step {r['best_step']} of "
                  f"{r['last_step']}; stopped by the rule: {r['converged']}", flush=True)
    results = units.results
    _common.save_figure_rows(os.path.join(out, "grid_all.png"), rows)
    if distributed.is_writer():
        _plot_curves(os.path.join(out, "training_curves.png"), args, results)
    _common.write_json(os.path.join(out, "metrics.json"), {
        "settings": _common.settings(args), "results": results, "machine": note,
    })
    report = render(args, results, note, int(np.prod(x.shape[1:])), len(x), len(held_out), steps_per_epoch)
    _common.write_text(os.path.join(out, "report.md"), report)
    print("\n" + report)
    print(f"Run folder: {out}")
    return results


def _plot_curves(path, args, results):
    """Per representation (rows): the validation ELBO, alpha, dof and the
    scale against the step; the shape and scale as median and quartiles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"normal": "tab:blue", "cauchy": "tab:orange", "student": "tab:green", "adaptive": "tab:red"}
    reps = [r for r in args.representations if any(f"{r}/{d}" in results for d in args.distributions)]
    if not reps:
        return
    fig, axes = plt.subplots(len(reps), 4, figsize=(16, 3.2 * len(reps)), squeeze=False)
    for row, representation in zip(axes, reps):
        for distribution in args.distributions:
            r = results.get(f"{representation}/{distribution}")
            if r is None:
                continue
            curve = [p for p in r["curve"] if p["step"] > 0]
            steps = [p["step"] for p in curve]
            kw = {"color": colors[distribution], "label": LABELS[distribution]}
            row[0].plot(steps, [p["elbo"] for p in curve], **kw)
            if "shape" in r:
                ax = row[1] if r["shape"]["name"] == "alpha" else row[2]
                ax.plot(steps, [p["shape"]["median"] for p in curve], **kw)
                ax.fill_between(steps, [p["shape"]["q1"] for p in curve], [p["shape"]["q3"] for p in curve],
                                color=kw["color"], alpha=0.25)
            row[3].plot(steps, [p["scale"]["median"] for p in curve], **kw)
            row[3].fill_between(steps, [p["scale"]["q1"] for p in curve], [p["scale"]["q3"] for p in curve],
                                color=kw["color"], alpha=0.2)
        titles = ("validation ELBO (nats/image)", "alpha (adaptive)", "dof (Student's t)", "scale c")
        for ax, title in zip(row, titles):
            ax.set_title(f"{representation}: {title}", fontsize=9)
            ax.set_xlabel("step")
        row[2].set_yscale("log")
        row[3].set_yscale("log")
        row[0].legend(fontsize=7)
        low = [results[f"{representation}/{d}"]["curve"][-1]["elbo"] for d in args.distributions
               if f"{representation}/{d}" in results]
        if low:  # the early climb would flatten the end of the curves
            top = max(low)
            row[0].set_ylim(min(low) - 0.05 * abs(top), top + 0.01 * abs(top))
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _summary(stats, fmt):
    return f"{stats['median']:{fmt}} ({stats['q1']:{fmt}}-{stats['q3']:{fmt}})"


def render(args, results, note, dims, n_train, n_held, steps_per_epoch):
    steps = args.epochs * steps_per_epoch
    lo, hi = args.alpha_range
    lines = [
        f"# Barron's VAE: decoder distributions and representations ({args.dataset}, {dims} dimensions)",
        "",
        f"MLP VAE (two 500-unit hidden layers each way, latent {args.latent_dim}), {n_train} training and "
        f"{n_held} validation images, batch {args.batch_size}, at most {steps} steps unless the table gives "
        "another cap, Adam "
        f"lr {args.lr:g} for the network and {args.lr * args.likelihood_lr_multiplier:g} "
        f"({args.likelihood_lr_multiplier:g}x) for the likelihood's latents, seed {args.seed}. Each "
        "distribution has one learned scale per coefficient, and one shape: alpha = "
        f"{lo:g} + {hi - lo:g} sigmoid(l) in [{lo:g}, {hi:g}] for the adaptive one, degrees of freedom "
        "dof = exp(l) (starting at 1) for Student's t. Normal and adaptive: c = softplus(l) + "
        f"{args.scale_min:g}; Cauchy and Student's t: c = exp(l). "
        + ("Scales start at the training images' per-coefficient standard deviation in the "
           "representation. " if args.scale_init == "data" else "Scales start at 1. ")
        + "Every representation has Jacobian determinant 1, so the numbers compare across rows and "
        "columns.",
        "",
        "Validation ELBO (higher is better) in nats per image, one posterior sample per image, with its "
        f"standard error; bits per dimension are -ELBO / ({dims} ln 2), of the continuous density of "
        "pixels in [0, 1] (add 8 for 8-bit pixels under uniform dequantisation). Stopping rule, "
        f"checked every {args.eval_every * steps_per_epoch} steps: training stops at step T when the best "
        f"validation ELBO so far exceeds the best up to T - W by less than {TOLERANCE:.1%} of itself, "
        f"with the window W the last tenth of the steps and at least {args.min_window} steps; the weights "
        f"of the best validation ELBO are kept (so the table is at the best step). A run that reaches "
        "its cap of steps first is marked not stopped by the rule.",
        "",
        _common.machine_line(note),
        "",
    ]
    commands = sorted({r["command"] for r in results.values() if "command" in r})
    if len(commands) > 1 or (commands and commands[0] != note["command"]):
        lines += ["The runs were trained by these commands (the same settings, split over processes), "
                  "and this report written by the one above:", ""]
        lines += [f"- `{c}`" for c in commands] + [""]
    lines += [
        "| representation | distribution | ELBO (nats/image) | bits/dim | shape: median (quartiles) | "
        "scale: median (quartiles) | best step / steps run (cap) | stopped by the rule | paper ELBO (64x64) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for representation in args.representations:
        for distribution in args.distributions:
            r = results.get(f"{representation}/{distribution}")
            if r is None:
                lines.append(f"| {representation} | {LABELS[distribution]} | not run | | | | | | "
                             f"{PAPER_ELBO[representation][distribution]:,} |")
                continue
            shape = r.get("shape")
            shape_cell = f"{shape['name']} {_summary(shape, '.3g')}" if shape else "-"
            lines.append(
                f"| {representation} + {r['color'].upper()} | {LABELS[distribution]} | "
                f"{r['validation_elbo']:.1f} ± {r['validation_elbo_sem']:.1f} | {r['bits_per_dim']:.3f} | "
                f"{shape_cell} | {_summary(r['scale'], '.3g')} | {r['best_step']} / {r['last_step']} "
                f"({r.get('max_steps', steps)}) | "
                f"{'yes' if r['converged'] else 'no'} | {PAPER_ELBO[representation][distribution]:,} |"
            )
    for representation in args.representations:
        present = [d for d in args.distributions if f"{representation}/{d}" in results]
        ranked = sorted(present, key=lambda d: -results[f"{representation}/{d}"]["validation_elbo"])
        paper = sorted(present, key=lambda d: -PAPER_ELBO[representation][d])
        lines += ["", f"Ordering on {representation} (best first): "
                  + " > ".join(LABELS[d] for d in ranked) + "; the paper's: "
                  + " > ".join(LABELS[d] for d in paper) + "."]
    lines += [
        "",
        f"The paper's ELBOs are on 64x64 images ({PAPER_DIMS} dimensions): per dimension they are "
        + ", ".join(f"{representation} {min(PAPER_ELBO[representation].values()) / PAPER_DIMS:.2f} to "
                    f"{max(PAPER_ELBO[representation].values()) / PAPER_DIMS:.2f}"
                    for representation in REPRESENTATIONS)
        + " nats, to set beside this table's ELBO / dimensions.",
        "",
        "![per representation: validation ELBO, alpha, dof (median and quartiles) and scale (median and "
        "quartiles) against the step](training_curves.png)",
        "",
        "![validation inputs; per run (representation-major): reconstructions, samples](grid_all.png)",
        "",
    ]
    return "\n".join(lines)
