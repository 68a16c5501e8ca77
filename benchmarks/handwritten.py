"""keras_recon's `model.fit` against a hand-written training loop of the
same model and loss in the backend's own framework.

    KERAS_BACKEND=jax python -m benchmarks.handwritten          # JAX + optax
    KERAS_BACKEND=torch python -m benchmarks.handwritten        # plain PyTorch
    KERAS_BACKEND=tensorflow python -m benchmarks.handwritten   # tf.function

The model is Chen et al.'s MLP VAE: 784-500-500-(8 means, 8 log-variances),
decoder 8-500-500-784 with a sigmoid, ReLU; log-cosh (a = 100) summed over
pixels plus the KL, averaged over the batch of 100; Adam 1e-3; the first
10,000 MNIST training digits (or the 5,000 embedded ones). Each side runs a
warm-up epoch, then `--rounds` interleaved epochs; the table shows each
loop's median time per step, and every ratio is the median of the rounds'
ratios (both loops of a round see the machine in the same state). Writes `benchmarks/results/handwritten_<backend>.{json,md}`.
Needs `optax` for JAX (`pip install -e ".[bench]"`).
"""

import math
import os
import statistics
import time

import keras
import numpy as np

from benchmarks import _harness
from benchmarks.train_step import load
from keras_recon import optimizers
from keras_recon.losses import LogCosh
from keras_recon.models import VAE
from keras_recon.models import architectures

TARGETS = {"jax": 0.9, "tensorflow": 0.8, "torch": 0.8}
SIZES = [(784, 500), (500, 500), (500, 16), (8, 500), (500, 500), (500, 784)]
A = 100.0


def glorot(rng, fan_in, fan_out):
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out)).astype("float32"), np.zeros(fan_out, "float32")


def jax_loop(x):
    import jax
    import jax.numpy as jnp
    import optax

    rng = np.random.default_rng(0)
    params = [tuple(jnp.asarray(p) for p in glorot(rng, *s)) for s in SIZES]

    def mlp(ps, h, last):
        for i, (w, b) in enumerate(ps):
            h = h @ w + b
            if i < len(ps) - 1:
                h = jax.nn.relu(h)
        return last(h)

    def loss_fn(ps, xb, key):
        h = mlp(ps[:3], xb, lambda h: h)
        mean, log_var = h[:, :8], h[:, 8:]
        z = mean + jnp.exp(0.5 * log_var) * jax.random.normal(key, mean.shape)
        recon = mlp(ps[3:], z, jax.nn.sigmoid)
        u = jnp.abs(A * (recon - xb))
        log_cosh = jnp.sum(u + jax.nn.softplus(-2.0 * u) - math.log(2.0), axis=1) / A
        kl = -0.5 * jnp.sum(1 + log_var - mean**2 - jnp.exp(log_var), axis=1)
        return jnp.mean(log_cosh + kl)

    opt = optax.adam(1e-3)
    state = opt.init(params)

    @jax.jit
    def step(ps, st, xb, key):
        value, grads = jax.value_and_grad(loss_fn)(ps, xb, key)
        updates, st = opt.update(grads, st, ps)
        return optax.apply_updates(ps, updates), st, value

    data = jnp.asarray(x.reshape(len(x), -1))
    holder = {"params": params, "state": state, "key": jax.random.PRNGKey(0)}

    def epoch():
        ps, st, key = holder["params"], holder["state"], holder["key"]
        for i in range(0, len(x) - 99, 100):
            key, sub = jax.random.split(key)
            ps, st, value = step(ps, st, data[i : i + 100], sub)
        value.block_until_ready()
        holder.update(params=ps, state=st, key=key)

    return epoch, "JAX + optax, `jax.jit` step"


def torch_loop(x, fused=False):
    import torch

    torch.manual_seed(0)

    def mlp(sizes, last):
        mods = []
        for i, (fi, fo) in enumerate(sizes):
            mods.append(torch.nn.Linear(fi, fo))
            if i < len(sizes) - 1:
                mods.append(torch.nn.ReLU())
        mods.append(last)
        return torch.nn.Sequential(*mods)

    enc, dec = mlp(SIZES[:3], torch.nn.Identity()), mlp(SIZES[3:], torch.nn.Sigmoid())
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3, fused=fused)
    data = torch.from_numpy(x.reshape(len(x), -1))

    def epoch():
        for i in range(0, len(x) - 99, 100):
            xb = data[i : i + 100]
            h = enc(xb)
            mean, log_var = h[:, :8], h[:, 8:]
            z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
            u = torch.abs(A * (dec(z) - xb))
            log_cosh = torch.sum(u + torch.nn.functional.softplus(-2.0 * u) - math.log(2.0), 1) / A
            kl = -0.5 * torch.sum(1 + log_var - mean**2 - torch.exp(log_var), 1)
            loss = torch.mean(log_cosh + kl)
            opt.zero_grad()
            loss.backward()
            opt.step()

    if fused:
        return epoch, "plain PyTorch, `torch.optim.Adam(fused=True)`, eager"
    return epoch, "plain PyTorch (nn.Sequential, torch.optim.Adam), eager"


def tf_loop(x):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    params = [tuple(tf.Variable(p) for p in glorot(rng, *s)) for s in SIZES]
    variables = [v for pair in params for v in pair]
    moments = [(tf.Variable(tf.zeros_like(v)), tf.Variable(tf.zeros_like(v))) for v in variables]
    t = tf.Variable(0.0)

    def mlp(ps, h, last):
        for i, (w, b) in enumerate(ps):
            h = tf.matmul(h, w) + b
            if i < len(ps) - 1:
                h = tf.nn.relu(h)
        return last(h)

    @tf.function
    def step(xb):
        with tf.GradientTape() as tape:
            h = mlp(params[:3], xb, tf.identity)
            mean, log_var = h[:, :8], h[:, 8:]
            z = mean + tf.exp(0.5 * log_var) * tf.random.normal(tf.shape(mean))
            u = tf.abs(A * (mlp(params[3:], z, tf.sigmoid) - xb))
            log_cosh = tf.reduce_sum(u + tf.nn.softplus(-2.0 * u) - math.log(2.0), 1) / A
            kl = -0.5 * tf.reduce_sum(1 + log_var - mean**2 - tf.exp(log_var), 1)
            loss = tf.reduce_mean(log_cosh + kl)
        grads = tape.gradient(loss, variables)
        t.assign_add(1.0)
        lr = 1e-3 * tf.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        for v, g, (m, s) in zip(variables, grads, moments):  # Adam, by hand
            m.assign(0.9 * m + 0.1 * g)
            s.assign(0.999 * s + 0.001 * g * g)
            v.assign_sub(lr * m / (tf.sqrt(s) + 1e-7))
        return loss

    data = tf.constant(x.reshape(len(x), -1))

    def epoch():
        for i in range(0, len(x) - 99, 100):
            loss = step(data[i : i + 100])
        loss.numpy()

    return epoch, "TensorFlow, `tf.function` step, Adam written out"


def plain_keras_epoch(x):
    """The same model in plain Keras (no keras_recon): where Keras's own
    trainer and optimizer cost ends and keras_recon's part begins."""
    from keras import layers
    from keras import ops

    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([layers.Flatten(), layers.Dense(500, "relu"), layers.Dense(500, "relu"),
                                layers.Dense(16)])
    decoder = keras.Sequential([layers.Dense(500, "relu"), layers.Dense(500, "relu"),
                                layers.Dense(784, "sigmoid")])

    class PlainVAE(keras.Model):
        def __init__(self):
            super().__init__()
            self.encoder, self.decoder = encoder, decoder
            self.noise = keras.random.SeedGenerator(0)

        def call(self, inputs):
            h = self.encoder(inputs)
            mean, log_var = h[:, :8], h[:, 8:]
            z = mean + ops.exp(0.5 * log_var) * keras.random.normal(ops.shape(mean), seed=self.noise)
            return ops.concatenate([self.decoder(z), h], axis=1)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            recon, mean, log_var = y_pred[:, :784], y_pred[:, 784:792], y_pred[:, 792:]
            u = ops.abs(A * (recon - ops.reshape(x, (-1, 784))))
            log_cosh = ops.sum(u + ops.softplus(-2.0 * u) - math.log(2.0), axis=1) / A
            kl = -0.5 * ops.sum(1 + log_var - mean**2 - ops.exp(log_var), axis=1)
            return ops.mean(log_cosh + kl)

    model = PlainVAE()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))

    def epoch():
        model.fit(x, epochs=1, batch_size=100, verbose=0, shuffle=False)

    return epoch


def optimizer_steps():
    """PyTorch only: one Adam update of the model's parameter shapes by
    Keras's Adam, keras_recon's Adam and `torch.optim.Adam` (ms), with
    fixed gradients."""
    import torch

    shapes = [shape for fi, fo in SIZES for shape in ((fi, fo), (fo,))]
    grads = [torch.full(s, 1e-3) for s in shapes]

    def keras_side(optimizer):
        variables = [keras.Variable(np.zeros(s, "float32")) for s in shapes]
        optimizer.build(variables)
        return lambda: optimizer.apply(grads, variables)

    def torch_side(**kwargs):
        params = [torch.nn.Parameter(torch.zeros(s)) for s in shapes]
        optimizer = torch.optim.Adam(params, lr=1e-3, **kwargs)

        def step():
            for p, g in zip(params, grads):
                p.grad = g
            optimizer.step()

        return step

    candidates = {
        "keras.optimizers.Adam": keras_side(keras.optimizers.Adam(1e-3)),
        "keras_recon.optimizers.Adam": keras_side(optimizers.Adam(1e-3)),
        "torch.optim.Adam": torch_side(),
        "torch.optim.Adam(fused=True)": torch_side(fused=True),
    }
    seconds = _harness.interleaved_ratios(candidates, (), rounds=5, repeats=3, inner=20)
    return {k: 1e3 * v for k, v in seconds.items()}


def keras_recon_epoch(x, optimizer=optimizers.Adam, jit_compile="auto"):
    keras.utils.set_random_seed(0)
    model = VAE(*architectures.mlp((28, 28, 1), 8), seed=0)
    model.compile(optimizer=optimizer(1e-3), loss=LogCosh(a=100), jit_compile=jit_compile)

    def epoch():
        model.fit(x, epochs=1, batch_size=100, verbose=0, shuffle=False)

    return epoch


def main():
    parser = _harness.argument_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    backend = keras.backend.backend()
    x, source = load(args.data_dir)
    steps = len(x) // 100
    hand, description = {"jax": jax_loop, "torch": torch_loop, "tensorflow": tf_loop}[backend](x)
    runs = {"keras_recon fit": keras_recon_epoch(x),
            "keras_recon fit, Keras Adam": keras_recon_epoch(x, keras.optimizers.Adam),
            "plain Keras fit": plain_keras_epoch(x), "hand-written": hand}
    if backend == "torch":
        runs["hand-written, fused Adam"], fused_description = torch_loop(x, fused=True)
        # Keras compiles the PyTorch step with torch.compile when asked.
        runs["keras_recon fit, jit_compile"] = keras_recon_epoch(x, jit_compile=True)
    for run in runs.values():
        run()  # warm-up: compilation
    times = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) / steps)
    ms = {name: 1e3 * statistics.median(v) for name, v in times.items()}
    # Paired per round (> 1: keras_recon faster): the machine's speed drifts
    # between rounds, and both loops of one round see the same state.
    def paired(faster, slower):
        return sorted(f / s for f, s in zip(times[faster], times[slower]))

    round_speeds = paired("hand-written", "keras_recon fit")
    speed = statistics.median(round_speeds)
    optimizer_ms = optimizer_steps() if backend == "torch" else None
    note = _harness.machine_note()
    target = TARGETS[backend]
    _harness.write_json(os.path.join(args.out, f"handwritten_{backend}.json"), {
        "machine": note, "data": source, "hand_written": description, "ms_per_step": ms,
        "ms_per_step_each_round": {name: [1e3 * t for t in v] for name, v in times.items()},
        "keras_recon_speed_relative_to_hand_written": speed, "speed_each_round": round_speeds,
        "target": target,
        "adam_update_ms": optimizer_ms,
    })
    lines = [f"# keras_recon vs a hand-written loop on {backend}", "",
             f"{_harness.note_line(note)} {source}, batch 100; median of {args.rounds} interleaved epochs "
             "after a warm-up epoch.", "",
             "| loop | ms / step |", "| --- | --- |",
             f"| keras_recon `VAE.fit`, `LogCosh(a=100)`, `keras_recon.optimizers.Adam` | "
             f"{ms['keras_recon fit']:.2f} |",
             f"| the same with `keras.optimizers.Adam` | {ms['keras_recon fit, Keras Adam']:.2f} |",
             f"| plain Keras: the same layers, log-cosh and KL in `compute_loss`, Keras's Adam | "
             f"{ms['plain Keras fit']:.2f} |",
             f"| {description} | {ms['hand-written']:.2f} |"]
    if backend == "torch":
        lines.append(f"| {fused_description} | {ms['hand-written, fused Adam']:.2f} |")
        lines.append(f"| keras_recon `VAE.fit` as the first row, `compile(jit_compile=True)` (`torch.compile`) | "
                     f"{ms['keras_recon fit, jit_compile']:.2f} |")
    lines += ["",
             f"keras_recon runs at **{speed:.2f}x** the hand-written loop's speed, the median of the "
             f"{args.rounds} rounds' ratios ({round_speeds[0]:.2f}x to {round_speeds[-1]:.2f}x) (target: at least "
             f"{target}x)" + ("." if speed >= target else f"; **missed by {target - speed:.2f}**."),
             f"With `keras.optimizers.Adam`: {statistics.median(paired('hand-written', 'keras_recon fit, Keras Adam')):.2f}x.",
             f"keras_recon (Keras's Adam) against plain Keras (Keras's Adam) on the same backend: "
             f"{statistics.median(paired('plain Keras fit', 'keras_recon fit, Keras Adam')):.2f}x."]
    if backend == "torch":
        lines.append(f"Against the hand-written loop with PyTorch's fused Adam: "
                     f"{statistics.median(paired('hand-written, fused Adam', 'keras_recon fit')):.2f}x.")
        lines.append(f"keras_recon with `jit_compile=True` against the hand-written loop: "
                     f"{statistics.median(paired('hand-written', 'keras_recon fit, jit_compile')):.2f}x.")
    if optimizer_ms:
        lines += ["", "One Adam update of the model's 1.3 million parameters, fixed gradients (ms; median of "
                  "interleaved rounds):", "", "| optimizer | ms / update |", "| --- | --- |"]
        lines += [f"| `{k}` | {v:.2f} |" for k, v in optimizer_ms.items()]
    _harness.write_markdown(os.path.join(args.out, f"handwritten_{backend}.md"), lines)


if __name__ == "__main__":
    main()
