"""Trains the FID classifier on the complete MNIST and records its accuracy.

    KERAS_BACKEND=jax python -m experiments.fid_classifier --data $KERAS_RECON_DATA/mnist

Chen et al., "Log Hyperbolic Cosine Loss Improves Variational Auto-Encoder"
(2019), compute FID on "the coding layer of a classification model trained
by us"; this is ours, and it must reach at least 99% test accuracy. The run
also records FID between two disjoint halves of the test set (the floor a
perfect generator would reach with 5,000 samples) and of the test set against
itself (~0), so every FID we report has its scale beside it.
"""

import argparse
import os
import time

import numpy as np

from experiments._record import machine_note
from experiments._record import write_json
from keras_recon import data
from keras_recon import metrics

RESULTS = os.path.join(os.path.dirname(__file__), "results")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST folder (default $KERAS_RECON_DATA/mnist)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()

    x, y = data.load_mnist(args.data, "train")
    x_test, y_test = data.load_mnist(args.data, "test")
    start = time.perf_counter()
    clf = metrics.load_or_train_classifier(
        "mnist", x, y, cache_dir=args.cache_dir, epochs=args.epochs
    )
    train_seconds = time.perf_counter() - start
    probs = np.asarray(clf.predict(x_test, batch_size=1000, verbose=0))
    accuracy = float(np.mean(probs.argmax(1) == y_test))

    fid = metrics.FID(metrics.feature_extractor(clf))
    half_a, half_b = fid.statistics(x_test[::2]), fid.statistics(x_test[1::2])
    whole = fid.statistics(x_test)
    noise = np.random.default_rng(0).uniform(size=(5000, 28, 28, 1)).astype("float32")
    results = {
        "test_accuracy": accuracy,
        "train_seconds_including_cache_lookup": train_seconds,
        "epochs": args.epochs,
        "fid_test_vs_itself": fid.distance(whole, whole),
        "fid_test_half_vs_half": fid.distance(half_a, half_b),
        "fid_test_vs_uniform_noise": fid.distance(whole, noise),
        **machine_note(),
    }
    os.makedirs(RESULTS, exist_ok=True)
    write_json(os.path.join(RESULTS, "fid_classifier.json"), results)
    for k, v in results.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
