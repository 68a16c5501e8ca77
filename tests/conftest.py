import atexit
import os
import shutil
import tempfile

import pytest

# JAX compiles every jitted step afresh in each new model and process; the
# suite builds many identical ones (and the CLI tests start processes that
# compile the same steps again). A compilation cache shared by the pytest
# process and its subprocesses, removed at exit, serves the repeats. It
# changes no result: an executable is reused only for an identical program. Set before JAX is imported; a user's own setting wins.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _jax_cache = tempfile.mkdtemp(prefix="keras-recon-jax-cache-")
    atexit.register(shutil.rmtree, _jax_cache, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _jax_cache
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")


@pytest.fixture(scope="session")
def data_root():
    """The real datasets folder, from KERAS_RECON_DATA as a user sets it."""
    root = os.environ.get("KERAS_RECON_DATA")
    if not root or not os.path.isdir(root):
        pytest.skip("KERAS_RECON_DATA is not set to the datasets folder")
    return root


@pytest.fixture(scope="session")
def classifier_cache(tmp_path_factory):
    """One FID classifier cache for the CLI runs of a test session.

    The cache is keyed by dataset and input shape, so the first run trains
    the classifier and the others load it; a test of the cache itself uses
    its own folder.
    """
    return str(tmp_path_factory.mktemp("classifier-cache"))


def pytest_terminal_summary(terminalreporter):
    """Prints how many property-based cases ran on this backend."""
    import sys

    module = sys.modules.get("tests.reliability.test_properties")
    if module is not None and module.CASES["count"]:
        import keras

        terminalreporter.write_line(
            f"property-based cases run on {keras.backend.backend()}: {module.CASES['count']}"
        )
