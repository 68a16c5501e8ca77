import os

import pytest


@pytest.fixture(scope="session")
def data_root():
    """The real datasets folder, from KERAS_RECON_DATA as a user sets it."""
    root = os.environ.get("KERAS_RECON_DATA")
    if not root or not os.path.isdir(root):
        pytest.skip("KERAS_RECON_DATA is not set to the datasets folder")
    return root
