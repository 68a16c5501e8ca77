"""Loading `.keras` files safely, with errors that say what is wrong."""

import os
import tarfile
import zipfile

import keras


def load_model(path, *, safe_mode=True, custom_objects=None, compile=True):
    """`keras.saving.load_model` with safe mode on and clear errors.

    Keras's `safe_mode` (on by default here) refuses to deserialise Python
    code, such as a `Lambda` layer's bytecode, from a file you did not
    write. A missing file is a `FileNotFoundError`; a truncated or corrupted
    one (not a zip archive, a failing CRC, a missing member) is a
    `ValueError` that names the file, rather than Keras's "File not found"
    or a traceback from inside the zip reader.

    Example:

    ```python
    vae = keras_recon.saving.load_model("runs/demo/model_log-cosh_a100.keras")
    ```

    Args:
        path: The `.keras` file.
        safe_mode: Refuse embedded Python code. Defaults to `True`; pass
            `False` only for files you trust.
        custom_objects: As in `keras.saving.load_model`. keras_recon's own
            classes are registered and need no entry.
        compile: As in `keras.saving.load_model`. Defaults to `True`.

    Returns:
        The model.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a .keras archive (truncated or corrupted file)")
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ValueError(f"{path}: unreadable .keras archive ({e})") from e
    if broken is not None:
        raise ValueError(f"{path}: member {broken} fails its CRC check (corrupted file)")
    if "config.json" not in names:
        raise ValueError(f"{path}: no config.json inside; not a Keras 3 .keras file")
    try:
        return keras.saving.load_model(path, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from e
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as e:
        raise ValueError(f"{path}: cannot be loaded ({type(e).__name__}: {e})") from e


def extract_archive(archive, target):
    """Extracts a `.tar`, `.tar.gz` or `.zip` inside `target`, and only there.

    Members with absolute paths, `..` components, or links pointing outside
    `target` are refused with a `ValueError` before anything is written
    (tar files go through Python's `"data"` extraction filter, which also
    drops device files and unsafe permission bits).

    Args:
        archive: Path of the archive.
        target: Folder to extract into (created if absent).

    Returns:
        `target`.
    """
    archive, target = os.fspath(archive), os.path.realpath(os.fspath(target))
    os.makedirs(target, exist_ok=True)

    def inside(name):
        dest = os.path.realpath(os.path.join(target, name))
        return dest == target or dest.startswith(target + os.sep)

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                if os.path.isabs(name) or not inside(name):
                    raise ValueError(f"{archive}: member {name!r} would be written outside {target}")
            z.extractall(target)
        return target
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for m in members:
                if os.path.isabs(m.name) or not inside(m.name):
                    raise ValueError(f"{archive}: member {m.name!r} would be written outside {target}")
                if (m.issym() or m.islnk()) and not inside(os.path.join(os.path.dirname(m.name), m.linkname)):
                    raise ValueError(f"{archive}: link {m.name!r} -> {m.linkname!r} points outside {target}")
            try:
                tar.extractall(target, members=members, filter="data")
            except tarfile.FilterError as e:
                raise ValueError(f"{archive}: refused by the safe extraction filter ({e})") from e
    except tarfile.ReadError as e:
        raise ValueError(f"{archive}: not a readable tar or zip archive ({e})") from e
    return target
