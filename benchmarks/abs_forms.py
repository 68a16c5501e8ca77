"""Equivalent forms of `|t|` and `t^2` summed per sample, forward plus
backward, as a ratio to `squared_error`: how much of a loss kernel's
figure is the compiler's plan rather than the arithmetic.

    KERAS_BACKEND=tensorflow python -m benchmarks.abs_forms
    KERAS_BACKEND=jax python -m benchmarks.abs_forms

On the (256, 64, 64, 3) batch TensorFlow's XLA plans `ops.abs` (our
`absolute_error`) with its per-sample sum in one single-threaded XNNPACK
reduction over the 4-D array, and the squared error as a two-way parallel
partial sum first (`tf.function(...).experimental_get_compiler_ir(...)
(stage="optimized_hlo")`). The same values written `where(t < 0, -t, t)`
or `t * sign(t)` get the second plan. This times each form, on the three
batches of `loss_kernels`, compiled (`jax.jit`, `tf.function(jit_compile=
True)`) and, on TensorFlow, eager, in interleaved rounds (median after
warm-up). Writes `benchmarks/results/abs_forms_<backend>.{json,md}`.
"""

import os

import keras
import numpy as np
from keras import ops

from benchmarks import _harness
from benchmarks.loss_kernels import MIN_WINDOW
from benchmarks.loss_kernels import SHAPES
from keras_recon import losses


def _flat(y_true, y_pred):
    batch = y_pred.shape[0]
    return ops.reshape(y_pred, (batch, -1)) - ops.reshape(y_true, (batch, -1))


SQUARES = ("squared_error (ops.square)", "t * t")


def forms():
    return {
        "squared_error (ops.square)": losses.squared_error,
        "t * t": lambda yt, yp: ops.sum((lambda t: t * t)(_flat(yt, yp)), axis=1),
        "absolute_error (ops.abs)": losses.absolute_error,
        "where(t < 0, -t, t)": lambda yt, yp: ops.sum((lambda t: ops.where(t < 0, -t, t))(_flat(yt, yp)), axis=1),
        "t * sign(t)": lambda yt, yp: ops.sum((lambda t: t * ops.sign(t))(_flat(yt, yp)), axis=1),
    }


def main():
    parser = _harness.argument_parser(__doc__, data_dir=False)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    backend = keras.backend.backend()
    modes = {"jax": ["compiled"], "tensorflow": ["compiled", "eager"], "torch": ["eager"]}[backend]
    rows = {}
    for label, shape in SHAPES.items():
        yt, yp = (_harness.to_backend(a) for a in _harness.random_pair(shape))
        for name, fn in forms().items():  # the forms are the same sums
            reference = losses.squared_error if name in SQUARES else losses.absolute_error
            np.testing.assert_allclose(ops.convert_to_numpy(fn(yt, yp)), ops.convert_to_numpy(reference(yt, yp)),
                                       rtol=1e-5, err_msg=name)
        for mode in modes:
            steps = {name: _harness.value_and_grad_fn(fn, compiled=mode == "compiled") for name, fn in forms().items()}
            seconds = _harness.interleaved_ratios(steps, (yt, yp), rounds=args.rounds, repeats=3, inner=3,
                                                  min_window=MIN_WINDOW)
            base = seconds["squared_error (ops.square)"]
            for name, s in seconds.items():
                rows.setdefault(name, {})[f"{label} {mode}"] = {"seconds": s, "ratio": s / base}
            print(label, mode, {k: round(v / base, 2) for k, v in seconds.items()}, flush=True)
    note = _harness.machine_note()
    _harness.write_json(os.path.join(args.out, f"abs_forms_{backend}.json"), {"machine": note, "rows": rows})
    columns = list(next(iter(rows.values())))
    lines = [f"# Forms of |t| and t^2 on {backend}: forward + backward, ratio to squared_error", "",
             f"{_harness.note_line(note)} Median over {args.rounds} interleaved rounds; "
             "squared_error's own time in the first row.", "",
             "| form | " + " | ".join(columns) + " |",
             "| --- | " + " | ".join("---" for _ in columns) + " |"]
    for name, cells in rows.items():
        if name.startswith("squared_error"):
            values = [f"{cells[c]['seconds'] * 1e3:.3f} ms" for c in columns]
        else:
            values = [f"{cells[c]['ratio']:.2f}x" for c in columns]
        lines.append(f"| {name} | " + " | ".join(values) + " |")
    _harness.write_markdown(os.path.join(args.out, f"abs_forms_{backend}.md"), lines)


if __name__ == "__main__":
    main()
