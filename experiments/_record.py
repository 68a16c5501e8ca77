"""Writing results files with the machine and the command beside them."""

import datetime
import json
import os
import platform
import sys

import keras


def machine_note():
    backend = keras.backend.backend()
    versions = {"keras": keras.__version__}
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    versions[module] = __import__(module).__version__
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}",
        "python": platform.python_version(),
        "backend": backend,
        "versions": versions,
        "command": " ".join(
            [f"KERAS_BACKEND={backend} python -m", sys.modules["__main__"].__spec__.name]
            + sys.argv[1:]
        ),
    }


def write_json(path, payload):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2)
    os.replace(tmp, path)
