"""The Gaussian decoder's gamma fixed, learned or computed from the
running minibatch MSE, optionally followed by a second stage (Asperti and
Trentin, "Balancing reconstruction error and Kullback-Leibler divergence
in Variational Autoencoders", 2020)."""

import os
import time

import numpy as np

from keras_recon.studies import _common

GAMMAS = ("fixed", "learned", "computed")

# Asperti and Trentin's summaries (two-stage VAE, ResNet, 64 latents, hundreds of epochs).
PAPER = {
    "cifar10": {"learned": {"REC": 54.1, "GEN-1": 76.8, "GEN-2": 73.1},
                "computed": {"REC": 53.8, "GEN-1": 80.2, "GEN-2": 69.8}},
    "celeba": {"learned": {"GEN-1": 60.5, "GEN-2": 44.4},
               "computed": {"REC": 33.9, "GEN-1": 43.6, "GEN-2": 42.7}},
}


def build_vae(args, input_shape, gamma):
    from keras_recon.likelihoods import Gaussian
    from keras_recon.models import VAE
    from keras_recon.models import architectures

    if args.arch == "mlp":
        parts = architectures.mlp(input_shape, args.latent_dim)
    elif args.arch == "conv":
        build = architectures.conv_mnist if input_shape[0] <= 32 and input_shape[-1] == 1 else architectures.conv_celeba
        parts = build(input_shape, args.latent_dim)
    else:
        parts = architectures.resnet(input_shape, args.latent_dim, scale_blocks=args.scale_blocks,
                                     base_channels=args.base_channels, dense_units=args.dense_units)
    value = args.fixed_gamma if gamma == "fixed" else gamma
    return VAE(*parts, beta=args.beta, likelihood=Gaussian(gamma=value), seed=args.seed)


def run(args):
    import keras

    from keras_recon import metrics
    from keras_recon import optimizers
    from keras_recon.likelihoods import Gaussian
    from keras_recon.models import VAE
    from keras_recon.models import TwoStageVAE
    from keras_recon.models import architectures

    _common.check_resume(args)
    out = _common.run_folder(args.out, "balance")
    x, y, x_test, _ = _common.load_dataset(args.dataset, args.data_dir, seed=args.seed,
                                           limit=args.train_images, size=args.image_size)
    held_out = x_test[: args.eval_images]
    print(f"keras-recon balance: VAE ({args.arch}, latent {args.latent_dim}) on {args.dataset} "
          f"{x.shape[1:]}, {len(x)} training images, {len(held_out)} held out, backend "
          f"{keras.backend.backend()}; writing {out}")
    fid, real = _common.fid_for(f"{args.dataset}-train{len(x)}", x, y, held_out, args.classifier_epochs)
    units = _common.Units(out, args)
    curves, rows = {}, [held_out[:10]]
    n = len(held_out)
    part = _common.evaluation_part(held_out)
    for gamma in args.gammas:
        finished = units.done(gamma)
        if finished is not None:
            curves[gamma] = finished[0].pop("curves")
            rows += list(finished[1].values())
            continue
        print(f"--- gamma {gamma}")
        keras.utils.set_random_seed(args.seed)
        first = build_vae(args, x.shape[1:], gamma)
        first.compile(optimizer=optimizers.Adam(args.lr))
        start = time.perf_counter()
        history = units.train(gamma, first, x)
        seconds = time.perf_counter() - start
        # Each process measures its part of the held-out images (and of
        # the samples, drawn alike on every process); the figures are merged.
        recon = np.clip(_common.to_numpy(first.reconstruct(part, batch_size=500)), 0, 1)
        gen1 = _common.to_numpy(first.sample(n, seed=args.seed + 1))
        codes = [first.encode(x[i : i + 1000]) for i in range(0, min(len(x), 10000), 1000)]
        z_mean = np.concatenate([_common.to_numpy(c[0]) for c in codes])
        z_log_var = np.concatenate([_common.to_numpy(c[1]) for c in codes])
        r = {
            "fid_reconstructed": fid.distance(real, _common.merged_statistics(fid, recon)),
            "fid_generated_first_stage": fid.distance(
                real, _common.merged_statistics(fid, _common.evaluation_part(gen1))),
            "mse": _common.merged_mean((recon - part) ** 2),
            "variance_law": float(metrics.variance_law(z_mean, z_log_var)[1]),
            "inactive_latents": metrics.inactive_latents(z_log_var),
            "final_gamma": float(_common.to_numpy(first.likelihood.gamma)),
            "train_seconds": seconds,
        }
        images = {"recon": np.clip(_common.to_numpy(first.reconstruct(held_out[:10])), 0, 1),
                  "gen1": gen1[:10]}
        if args.second_stage_epochs:
            # The second stage is short and not checkpointed: a resumed run
            # redoes it from the finished first stage.
            second = VAE(*architectures.second_stage(args.latent_dim, inner_dim=args.second_inner_dim),
                         likelihood=Gaussian(gamma=args.fixed_gamma if gamma == "fixed" else gamma),
                         seed=args.seed)
            second.compile(optimizer=optimizers.Adam(args.lr))
            two = TwoStageVAE(first, second)
            two.fit_second_stage(x, seed=args.seed, epochs=args.second_stage_epochs,
                                 batch_size=args.batch_size, verbose=2)
            gen2 = _common.to_numpy(two.sample(n, seed=args.seed + 2))
            r["fid_generated_second_stage"] = fid.distance(
                real, _common.merged_statistics(fid, _common.evaluation_part(gen2)))
            images["gen2"] = gen2[:10]
        units.finish(gamma, {**r, "curves": history}, images)
        units.results[gamma] = r
        curves[gamma] = history
        rows += list(images.values())
        print("    " + ", ".join(f"{k} {v:.4g}" for k, v in r.items()))
    results = units.results
    _common.save_figure_rows(os.path.join(out, "grid_all.png"), rows)
    note = _common.machine_note()
    _common.write_json(os.path.join(out, "metrics.json"), {
        "settings": _common.settings(args), "results": results, "curves": curves,
        "paper": PAPER.get(args.dataset), "machine": note,
    })
    report = render(args, results, note)
    _common.write_text(os.path.join(out, "report.md"), report)
    print("\n" + report)
    print(f"Run folder: {out}")
    return results


def render(args, results, note):
    two = bool(args.second_stage_epochs)
    lines = [
        f"# Gamma fixed, learned and computed ({args.dataset}, {args.arch})",
        "",
        f"VAE with a Gaussian decoder (NLL summed over pixels, KL over {args.latent_dim} latents, beta "
        f"{args.beta:g}); {args.epochs} epochs, batch {args.batch_size}, Adam lr {args.lr:g}, seed "
        f"{args.seed}; fixed gamma = {args.fixed_gamma:g}; computed gamma: gamma^2 <- min(gamma^2, 0.99 "
        "gamma^2 + 0.01 mse_batch) in every training step. FID on our classifier's features "
        f"(lower is better) against {args.eval_images} held-out images: REC = reconstructions, GEN-1 = "
        "prior samples of the first stage" + (", GEN-2 = samples through the second stage" if two else "")
        + "; variance law: mean over latents of E[mu^2] + E[sigma^2] (1 when the aggregate posterior "
        "matches the prior); inactive: latents with E[sigma^2] >= 0.8.",
        "",
        _common.machine_line(note),
        "",
        "| gamma | REC FID | GEN-1 FID |" + (" GEN-2 FID |" if two else "")
        + " MSE | variance law | inactive latents | final gamma |",
        "| --- | --- | --- |" + (" --- |" if two else "") + " --- | --- | --- | --- |",
    ]
    for gamma, r in results.items():
        lines.append(
            f"| {gamma} | {r['fid_reconstructed']:.2f} | {r['fid_generated_first_stage']:.2f} |"
            + (f" {r['fid_generated_second_stage']:.2f} |" if two else "")
            + f" {r['mse']:.5f} | {r['variance_law']:.3f} | {r['inactive_latents']} | {r['final_gamma']:.4f} |"
        )
    paper = PAPER.get(args.dataset)
    if paper:
        lines += ["", "Asperti and Trentin's numbers for this dataset (ResNet two-stage VAE, hundreds of epochs, "
                  "Inception FID, so only the direction compares):", "",
                  "| gamma | REC | GEN-1 | GEN-2 |", "| --- | --- | --- | --- |"]
        for gamma, p in paper.items():
            lines.append(f"| {gamma} | {p.get('REC', '-')} | {p.get('GEN-1', '-')} | {p.get('GEN-2', '-')} |")
    lines += ["", "![held-out inputs; per gamma: reconstructions, first-stage samples"
              + (", second-stage samples" if two else "") + "](grid_all.png)", ""]
    return "\n".join(lines)
