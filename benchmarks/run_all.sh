#!/usr/bin/env bash
# Runs every benchmark on every backend, one process at a time, and writes
# benchmarks/results/. Usage (from the repository root, with .venv built by
# `make install` and `pip install -e ".[bench]"`):
#
#   KERAS_RECON_DATA=/path/to/datasets benchmarks/run_all.sh [backends] [benchmarks]
#
# e.g. `benchmarks/run_all.sh "jax torch" "loss_kernels fid"`. Run it on an
# otherwise idle machine: every figure is a ratio taken in one run, but
# other load still moves them. About 25 minutes per backend on 2 CPU cores.
set -euo pipefail
PY=${PYTHON:-.venv/bin/python}
BACKENDS=${1:-"jax tensorflow torch"}
NAMES=${2:-"loss_kernels abs_forms train_step handwritten epoch_scaling epoch_start batch_times fid pythae_vae model_steps memory"}
for backend in $BACKENDS; do
  for name in $NAMES; do
    echo "== $name on $backend"
    KERAS_BACKEND=$backend "$PY" -m "benchmarks.$name"
  done
done
