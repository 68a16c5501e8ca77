"""Loss kernels, forward plus backward, as a ratio to the squared error.

    KERAS_BACKEND=jax python -m benchmarks.loss_kernels
    KERAS_BACKEND=tensorflow python -m benchmarks.loss_kernels
    KERAS_BACKEND=torch python -m benchmarks.loss_kernels

Writes `benchmarks/results/loss_kernels_<backend>.{json,md}`. Each figure
is the median over interleaved rounds of the time of `value_and_grad`
(compiled where the backend compiles: `jax.jit`, `tf.function(jit_compile=True)`;
eager on PyTorch, and eager TensorFlow as a second column; each round's
figure the median of 3 windows of calls lasting at least 20 ms), divided by the
squared error's time measured in the same run. `AdaptiveRobust`'s row
takes the gradients in its per-pixel alpha and scale latents as well and
calls the layer, as keras_recon's models do.
"""

import os

import keras

from benchmarks import _harness
from keras_recon import likelihoods
from keras_recon import losses

# Two batch shapes, and the first one flattened: XLA folds the losses' own
# reshape to (batch, features) away for the squared error and then runs it
# on the 4-D layout, whose inner axis of 3 it vectorises poorly, so the flat
# column shows ratios against a squared error at full speed.
# Each timed window runs enough calls to last at least this long, so that
# a window of a fast kernel on the (100, 784) batch is not dominated by the
# timer and the dispatch.
MIN_WINDOW = 0.02
SHAPES = {"(256, 64, 64, 3)": (256, 64, 64, 3), "(100, 784)": (100, 784), "(256, 12288)": (256, 12288)}
TARGETS = {"AbsoluteError": 1.1, "LogCosh(a=100)": 3.0, "IDivergence(forward)": 3.0, "IDivergence(reverse)": 3.0,
           "BetaDivergence(0.5)": 3.0, "BetaDivergence(0.7)": 3.0, "GeneralRobust(alpha=1)": 3.0, "AdaptiveRobust NLL": 6.0,
           "keras.losses.LogCosh(a t)/a": None, "LogCosh(a=100) autodiff": None}


def subjects(shape):
    keras_logcosh = keras.losses.LogCosh(reduction=None)
    adaptive = likelihoods.AdaptiveRobust()
    adaptive.build(shape)

    def keras_reference(yt, yp):
        # Keras's own log-cosh on a*t, over the last axis, divided by a.
        return keras_logcosh(100.0 * yt, 100.0 * yp) / 100.0

    return {
        "SquaredError": losses.squared_error,
        "AbsoluteError": losses.absolute_error,
        "LogCosh(a=100)": lambda yt, yp: losses.log_cosh(yt, yp, a=100.0),
        "LogCosh(a=100) autodiff": lambda yt, yp: losses.log_cosh(yt, yp, a=100.0, surrogate_gradient=False),
        "keras.losses.LogCosh(a t)/a": keras_reference,
        "IDivergence(forward)": lambda yt, yp: losses.i_divergence(yt, yp, direction="forward"),
        "IDivergence(reverse)": lambda yt, yp: losses.i_divergence(yt, yp, direction="reverse"),
        # beta = 0.5 has its own closed form (square roots); 0.7 takes the
        # general one (a logarithm, expm1 and a power).
        "BetaDivergence(0.5)": lambda yt, yp: losses.beta_divergence(yt, yp, beta=0.5),
        "BetaDivergence(0.7)": lambda yt, yp: losses.beta_divergence(yt, yp, beta=0.7),
        "GeneralRobust(alpha=1)": lambda yt, yp: losses.general_robust(yt, yp, alpha=1.0),
        # Value and every gradient: y_pred, and the alpha and scale latents
        # (the `layer` argument of `value_and_grad_fn`).
        "AdaptiveRobust NLL": lambda yt, yp: adaptive(yt, yp),
    }, adaptive


def main():
    parser = _harness.argument_parser(__doc__, data_dir=False)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES),
                        help="which of the batches to time (default: all)")
    parser.add_argument("--tag", default="", help="suffix of the results files' names")
    args = parser.parse_args()
    backend = keras.backend.backend()
    modes = {"jax": ["compiled"], "tensorflow": ["compiled", "eager"], "torch": ["eager"]}[backend]
    rows = {}
    for label, shape in ((label, SHAPES[label]) for label in args.shapes):
        yt, yp = (_harness.to_backend(a) for a in _harness.random_pair(shape))
        for mode in modes:
            fns, adaptive = subjects(shape)
            steps = {name: _harness.value_and_grad_fn(fn, compiled=mode == "compiled",
                                                      layer=adaptive if name.startswith("AdaptiveRobust") else None)
                     for name, fn in fns.items()}
            seconds = _harness.interleaved_ratios(steps, (yt, yp), rounds=args.rounds, repeats=3, inner=3,
                                                  min_window=MIN_WINDOW)
            _harness.add_ratio_column(rows, f"{label} {mode}", seconds, "SquaredError")
    note = _harness.machine_note()
    _harness.write_json(os.path.join(args.out, f"loss_kernels_{backend}{args.tag}.json"),
                        {"machine": note, "targets": TARGETS, "rows": rows})
    lines = [f"# Loss kernels on {backend}: forward + backward, ratio to SquaredError", "",
             f"{_harness.note_line(note)} Median over {args.rounds} interleaved rounds; "
             "SquaredError's own time in the first row.", "",
             *_harness.ratio_table(rows, "SquaredError", "loss", TARGETS)]
    _harness.write_markdown(os.path.join(args.out, f"loss_kernels_{backend}{args.tag}.md"), lines)


if __name__ == "__main__":
    main()
