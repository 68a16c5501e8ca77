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

SQUARE, ABS = "squared_error (ops.square)", "absolute_error (ops.abs)"


def _per_sample(elementwise):
    """`(y_true, y_pred) -> sum(elementwise(t), axis=1)`, `t = y_pred - y_true` flattened."""

    def loss(y_true, y_pred):
        batch = y_pred.shape[0]
        t = ops.reshape(y_pred, (batch, -1)) - ops.reshape(y_true, (batch, -1))
        return ops.sum(elementwise(t), axis=1)

    return loss


# Each form, and the loss whose values it has.
FORMS = {
    SQUARE: (losses.squared_error, losses.squared_error),
    "t * t": (_per_sample(lambda t: t * t), losses.squared_error),
    ABS: (losses.absolute_error, losses.absolute_error),
    "where(t < 0, -t, t)": (_per_sample(lambda t: ops.where(t < 0, -t, t)), losses.absolute_error),
    "t * sign(t)": (_per_sample(lambda t: t * ops.sign(t)), losses.absolute_error),
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
        for name, (fn, reference) in FORMS.items():  # the forms are the same sums
            np.testing.assert_allclose(ops.convert_to_numpy(fn(yt, yp)), ops.convert_to_numpy(reference(yt, yp)),
                                       rtol=1e-5, err_msg=name)
        for mode in modes:
            steps = {name: _harness.value_and_grad_fn(fn, compiled=mode == "compiled") for name, (fn, _) in FORMS.items()}
            seconds = _harness.interleaved_ratios(steps, (yt, yp), rounds=args.rounds, repeats=3, inner=3,
                                                  min_window=MIN_WINDOW)
            _harness.add_ratio_column(rows, f"{label} {mode}", seconds, SQUARE)
    note = _harness.machine_note()
    _harness.write_json(os.path.join(args.out, f"abs_forms_{backend}.json"), {"machine": note, "rows": rows})
    lines = [f"# Forms of |t| and t^2 on {backend}: forward + backward, ratio to squared_error", "",
             f"{_harness.note_line(note)} Median over {args.rounds} interleaved rounds; "
             "squared_error's own time in the first row.", "",
             *_harness.ratio_table(rows, SQUARE, "form")]
    _harness.write_markdown(os.path.join(args.out, f"abs_forms_{backend}.md"), lines)


if __name__ == "__main__":
    main()
