import os

import pytest


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
