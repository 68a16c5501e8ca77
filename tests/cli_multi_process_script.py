"""Every `keras-recon` command, run by one process of a group (or alone).

Run with the variables of `keras_recon.distributed.local_environments`; the
first argument is the folder the runs go to (`<folder>/<command>`), shared
by the processes. Records every file this process opens for writing under
the folder in `<folder>/writes-<process index>.json`, and the studies'
merged evaluation helpers on a fixed set in `<folder>/helpers-<index>.json`.
"""

import json
import os
import sys

import keras  # noqa: F401  (fixes the backend before the package)

from keras_recon import distributed

distributed.initialize_from_env()

import numpy as np  # noqa: E402

from keras_recon import cli  # noqa: E402
from keras_recon import metrics  # noqa: E402
from keras_recon.studies import _common  # noqa: E402

# The smallest settings: 200 training images in global batches of 50, 100
# held-out images, one epoch, one model per command.
SMALL = ["--epochs", "1", "--train-images", "200", "--batch-size", "50", "--latent-dim", "4",
         "--eval-images", "100"]
COMMANDS = {
    "compare": ["--losses", "l2", "--classifier-epochs", "1"],
    "optimizers": ["--losses", "mse", "--activations", "relu-sigmoid", "--optimizers", "adam"],
    "balance": ["--gammas", "computed", "--classifier-epochs", "1"],
    "robust": ["--distributions", "normal", "--representations", "pixels", "--eval-every", "1"],
}


def record_writes(root, written):
    root = os.path.realpath(root)

    def hook(event, args):
        if event == "open" and args[0] is not None and not isinstance(args[0], int):
            mode, flags = args[1], args[2] or 0
            if (mode and any(c in str(mode) for c in "wax+")) or (mode is None and flags & (os.O_WRONLY | os.O_RDWR)):
                path = os.path.realpath(os.fsdecode(args[0]))
                if path.startswith(root + os.sep):
                    written.add(os.path.relpath(path, root))
        elif event in ("os.rename", "os.replace"):
            path = os.path.realpath(os.fsdecode(args[1]))
            if path.startswith(root + os.sep):
                written.add(os.path.relpath(path, root))

    sys.addaudithook(hook)


def helpers():
    """The studies' merged figures of a fixed set, each process holding its part."""
    values = np.random.default_rng(0).normal(3.0, 2.0, size=(101, 7)).astype(np.float32)
    part = _common.evaluation_part(values)
    mean = _common.merged_mean(part)
    stats = metrics.FeatureStatistics()
    stats.update(part)
    distributed.reduce_across_processes(stats)
    return {"rows": len(part), "mean": mean, "std": _common.merged_std(part, mean), "count": stats.count,
            "feature_mean": stats.mean.tolist(), "covariance": stats.covariance.tolist()}


def main():
    root = sys.argv[1]
    commands = sys.argv[2].split(",") if len(sys.argv) > 2 else list(COMMANDS)
    index = distributed.process_index()
    written = set()
    record_writes(root, written)
    for command in commands:
        cli.main([command, *SMALL, *COMMANDS[command], "--out", os.path.join(root, command)])
    result = helpers()
    # Outside the audited folder's report files: one file per process.
    with open(os.path.join(root, f"helpers-{index}.json"), "w") as f:
        json.dump(result, f)
    with open(os.path.join(root, f"writes-{index}.json"), "w") as f:
        json.dump(sorted(written), f)


if __name__ == "__main__":
    main()
