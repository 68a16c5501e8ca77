"""`keras-recon` with a pause after every training step, so that a test can
kill it in the middle of an epoch. Test-side only: the pause is patched in
here, not in the library."""

import sys
import time

from keras_recon import cli
from keras_recon import training

_original = training._Watch.on_train_batch_end


def _slow(self, batch, logs=None):
    _original(self, batch, logs)
    # 0.1 s a step: an epoch of 6 steps leaves the test at least 0.3 s to
    # see the mid-epoch checkpoint (written every 3 steps) before the next.
    time.sleep(0.1)


training._Watch.on_train_batch_end = _slow

if __name__ == "__main__":
    cli.main(sys.argv[1:])
