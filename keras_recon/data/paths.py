import os

DATA_ENV = "KERAS_RECON_DATA"


def resolve_dir(path, dataset):
    """The folder to read `dataset` from: `path`, else `$KERAS_RECON_DATA/<dataset>`."""
    if path is None:
        root = os.environ.get(DATA_ENV)
        if not root:
            raise FileNotFoundError(
                f"No path given for {dataset}: pass `path=` (the folder holding "
                f"its files) or set {DATA_ENV} to a folder containing `{dataset}/`."
            )
        path = os.path.join(root, dataset)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{dataset}: folder not found: {path}")
    return path
