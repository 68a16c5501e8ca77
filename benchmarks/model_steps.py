"""Step time of the papers' convolutional VAEs at batch 100.

    KERAS_BACKEND=jax python -m benchmarks.model_steps
    KERAS_BACKEND=jax python -m benchmarks.model_steps --dtype-policy mixed_bfloat16   # on a GPU

Models: Chen et al.'s conv VAE for MNIST (`architectures.conv_mnist`, 8
latents, `LogCosh(a=100)`), Asperti and Trentin's ResNet VAE for CIFAR-10
(`architectures.resnet`, 3 scale blocks, 64 latents, `Gaussian` decoder
with `gamma="computed"` and its `GammaBalancer`), and with `--models`
also Chen et al.'s CelebA conv VAE (`conv_celeba`, 64x64, 64 latents). Adam,
batch 100, `model.fit` on `--steps` batches of uniform random images per
round (a step's cost does not depend on pixel values); one warm-up round
(compilation), then the median over `--rounds` rounds of the time per step.
The result is appended to `benchmarks/results/model_steps.json` under the
device, backend and dtype policy, and the table in `model_steps.md` is
rebuilt from every entry, so CPU and GPU runs sit side by side.
"""

import json
import os
import statistics
import time

import keras
import numpy as np

from benchmarks import _harness

MODELS = {
    "conv_mnist": "Chen et al. conv VAE, MNIST 28x28x1, LogCosh(a=100)",
    "resnet": "Asperti and Trentin ResNet VAE, CIFAR-10 32x32x3, Gaussian(gamma=computed)",
    "conv_celeba": "Chen et al. conv VAE, CelebA 64x64x3, LogCosh(a=100)",
}


def build(name):
    from keras_recon.likelihoods import Gaussian
    from keras_recon.losses import LogCosh
    from keras_recon.models import VAE
    from keras_recon.models import architectures

    if name == "conv_mnist":
        shape, parts, objective = (28, 28, 1), architectures.conv_mnist((28, 28, 1), 8), {"loss": LogCosh(a=100)}
        return shape, VAE(*parts, seed=0), objective
    if name == "resnet":
        shape = (32, 32, 3)
        return shape, VAE(*architectures.resnet(shape, 64), likelihood=Gaussian(gamma="computed"), seed=0), {}
    shape = (64, 64, 3)
    return shape, VAE(*architectures.conv_celeba(shape, 64), seed=0), {"loss": LogCosh(a=100)}


def device_name():
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return f"{device.platform.upper()} ({getattr(device, 'device_kind', device.platform)})"
    if backend == "torch":
        import torch

        return f"GPU ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else "CPU"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU ({details.get('device_name', gpus[0].name)})"
    return "CPU"


def main():
    parser = _harness.argument_parser(__doc__, data_dir=False)
    parser.add_argument("--models", default="conv_mnist,resnet",
                        help=f"comma-separated, from {sorted(MODELS)}")
    parser.add_argument("--dtype-policy", default="float32", choices=["float32", "mixed_bfloat16", "mixed_float16"])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {sorted(MODELS)}")
    keras.config.set_dtype_policy(args.dtype_policy)
    backend = keras.backend.backend()
    device = device_name()
    note = _harness.machine_note()
    path = os.path.join(args.out, "model_steps.json")
    entries = []
    if os.path.exists(path):
        with open(path) as f:
            entries = json.load(f)["entries"]
    for name in names:
        keras.utils.set_random_seed(0)
        shape, model, objective = build(name)
        model.compile(optimizer=keras.optimizers.Adam(1e-4), **objective)
        x = np.random.default_rng(0).uniform(0, 1, (100 * args.steps,) + shape).astype("float32")
        model.fit(x, epochs=1, batch_size=100, verbose=0)  # warm-up and compilation
        times = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            model.fit(x, epochs=1, batch_size=100, verbose=0)
            times.append((time.perf_counter() - start) / args.steps)
        ms = 1e3 * statistics.median(times)
        print(f"{name} {backend} {device} {args.dtype_policy}: {ms:.1f} ms / step")
        entries = [e for e in entries if (e["model"], e["backend"], e["device"], e["dtype_policy"])
                   != (name, backend, device, args.dtype_policy)]
        entries.append({"model": name, "description": MODELS[name], "backend": backend, "device": device,
                        "dtype_policy": args.dtype_policy, "ms_per_step": ms, "params": model.count_params(),
                        "machine": note, "steps_per_round": args.steps, "rounds": args.rounds})
        keras.backend.clear_session()
    _harness.write_json(path, {"entries": entries})
    lines = ["# Step time of the convolutional VAEs, batch 100", "",
             "Adam, `model.fit`, uniform random images; median over rounds after a warm-up round. "
             "Each row names its machine and command.", "",
             "| model | backend | device | dtype policy | ms / step | measured | command |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for e in sorted(entries, key=lambda e: (e["model"], e["device"], e["dtype_policy"], e["backend"])):
        m = e["machine"]
        lines.append(f"| {e['description']} ({e['params']:,} parameters) | {e['backend']} "
                     f"({', '.join(f'{k} {v}' for k, v in m['versions'].items())}) | {e['device']}, "
                     f"{m['machine']} | {e['dtype_policy']} | {e['ms_per_step']:.0f} | {m['date']} | "
                     f"`{m['command']}` |")
    _harness.write_markdown(os.path.join(args.out, "model_steps.md"), lines)


if __name__ == "__main__":
    main()
