# `make demo` and `make test` work on a fresh clone: each creates .venv and
# installs the package with all three backends before running.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BACKENDS := tensorflow jax torch
# Real datasets for the loader and metric tests, read as a user's copy would
# be; override with your own folder.
KERAS_RECON_DATA ?= $(firstword $(wildcard $(abspath ../shared/datasets) /work/shared/datasets))
export KERAS_RECON_DATA

.PHONY: install demo test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[tensorflow,jax,torch,dev]"
	touch $(STAMP)

install: $(STAMP)

# The main job on the embedded MNIST digits (no download, no path):
# seed 000's comparison of squared L2, L1 and log-cosh in the MLP VAE.
demo: $(STAMP)
	$(VENV)/bin/keras-recon compare --epochs 40 --out runs/demo

# The whole suite once per backend, each in its own process; fails if any fails.
test: $(STAMP)
	@status=0; for backend in $(BACKENDS); do \
		echo "=== KERAS_BACKEND=$$backend"; \
		KERAS_BACKEND=$$backend $(PY) -m pytest -q tests || status=1; \
	done; exit $$status

lint: $(STAMP)
	$(VENV)/bin/ruff check keras_recon tests examples benchmarks experiments

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
