"""What one elementwise PyTorch operation costs on this CPU: the unit the
eager kernels are written in.

    python -m benchmarks.torch_elementwise

The eager PyTorch paths of the losses (`losses/log_cosh.py`,
`likelihoods/adaptive_robust.py`, ...) are chains of single operations,
each a pass over memory, so which operations are vectorised decides which
form of a formula is cheapest. This times each operation into a
preallocated buffer (`out=`, no allocation) on a `(100, 784)` and a
`(256, 12288)` float32 batch, with inputs uniform in `[-r, r]` for
`r = 1` and `r = 100` (where `exp(-2|x|)` underflows into subnormal
numbers), in interleaved rounds, median after warm-up. PyTorch's default
threads. Writes `benchmarks/results/torch_elementwise.{json,md}`.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import torch  # noqa: E402

from benchmarks import _harness  # noqa: E402

SHAPES = {"(100, 784)": (100, 784), "(256, 12288)": (256, 12288)}
RANGES = (1.0, 100.0)


def operations(x, out):
    # Arguments kept inside each operation's domain: atanh's in (-1, 1),
    # log's and log1p's positive.
    positive = x.abs().add_(1e-3)
    inside = torch.tanh(x)
    capped = torch.clamp(x, -10.0, 10.0)
    return {
        "mul (a x)": lambda: torch.mul(x, 2.0, out=out),
        "abs": lambda: torch.abs(x, out=out),
        "clamp": lambda: torch.clamp(x, -10.0, 10.0, out=out),
        "div": lambda: torch.div(x, positive, out=out),
        "sqrt": lambda: torch.sqrt(positive, out=out),
        "copysign": lambda: torch.copysign(positive, x, out=out),
        "exp (of capped x)": lambda: torch.exp(capped, out=out),
        # Three operations: |x|, times -2, exp; the result is subnormal
        # wherever |x| > 44.
        "abs, mul, exp(-2|x|)": lambda: torch.exp(torch.abs(x, out=out).mul_(-2.0), out=out),
        "expm1 (of capped x)": lambda: torch.expm1(capped, out=out),
        "log": lambda: torch.log(positive, out=out),
        # A general float exponent (0.5 and -0.5 go to sqrt and rsqrt), and
        # the same power as three vectorised operations.
        "pow (x ** 0.7)": lambda: torch.pow(positive, 0.7, out=out),
        "log, mul, exp (x ** 0.7)": lambda: torch.log(positive, out=out).mul_(0.7).exp_(),
        "log1p": lambda: torch.log1p(positive, out=out),
        "tanh": lambda: torch.tanh(x, out=out),
        "sinh (of capped x)": lambda: torch.sinh(capped, out=out),
        "sigmoid": lambda: torch.sigmoid(x, out=out),
        "atanh": lambda: torch.atanh(inside, out=out),
        "sum over axis 1": lambda: torch.sum(x, dim=1),
    }


def main():
    parser = _harness.argument_parser(__doc__, data_dir=False)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    rows = {}
    for label, shape in SHAPES.items():
        small = shape[0] == 100
        for r in RANGES:
            x = (torch.rand(shape, generator=generator) * 2.0 - 1.0) * r
            out = torch.empty_like(x)
            seconds = _harness.interleaved_ratios(operations(x, out), (), rounds=args.rounds, repeats=5,
                                                  inner=50 if small else 3)
            for name, s in seconds.items():
                rows.setdefault(name, {})[f"{label}, |x| <= {r:g}"] = s * 1e6
            print(label, r, {k: round(v * 1e6, 1) for k, v in seconds.items()})
    note = _harness.machine_note()
    note["threads"] = torch.get_num_threads()
    _harness.write_json(os.path.join(args.out, "torch_elementwise.json"), {"machine": note, "microseconds": rows})
    columns = list(next(iter(rows.values())))
    lines = ["# One elementwise PyTorch operation, into a preallocated buffer (us)", "",
             f"{_harness.note_line(note)} {note['threads']} PyTorch threads; median of "
             f"{args.rounds} interleaved rounds after warm-up.", "",
             "| operation | " + " | ".join(columns) + " |",
             "| --- | " + " | ".join("---" for _ in columns) + " |"]
    for name, cells in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{cells[c]:.1f}" for c in columns) + " |")
    _harness.write_markdown(os.path.join(args.out, "torch_elementwise.md"), lines)


if __name__ == "__main__":
    main()
