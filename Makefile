# `make demo` and `make test` work on a fresh clone: each creates .venv and
# installs the package with all three backends before running.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Real datasets for the loader and metric tests, read as a user's copy would
# be; override with your own folder.
KERAS_RECON_DATA ?= $(firstword $(wildcard $(abspath ../shared/datasets) /work/shared/datasets))
export KERAS_RECON_DATA

.PHONY: install demo test docs lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[tensorflow,jax,torch,dev,docs]"
	touch $(STAMP)

install: $(STAMP)

# The main job on the embedded MNIST digits (no download, no path): the
# log-cosh paper's comparison of squared L2, L1 and log-cosh in the MLP VAE.
demo: $(STAMP)
	$(VENV)/bin/keras-recon compare --epochs 40 --out runs/demo

# The documentation site (docs/, mkdocs.yml) into site/; --strict fails on
# any warning: a broken link, a missing page, an unresolved API reference.
export NO_MKDOCS_2_WARNING := 1
docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict

# The whole suite once per backend, each in its own process (the backend is
# fixed when Keras is imported), then the documentation's strict build;
# fails if any of them fails. Two lanes share the cores: JAX (the longest,
# mostly single-threaded XLA compilation) beside TensorFlow then PyTorch.
# Each backend writes its own log and temporary folder; a log is printed
# when its backend finishes. PyTorch runs with one OpenMP thread: beside
# the JAX lane its second thread only spin-waits for a busy core.
# XLA (JAX, and TensorFlow's compiled losses) compiles with LLVM's
# optimisations off, since the suite's small models spend most of their
# time compiling; tests/test_xla_levels.py checks that the compiled losses
# agree with XLA's default level to 1e-6. `make test TEST_XLA_FLAGS=` runs
# the suite at the default, which the benchmarks use.
TEST_XLA_FLAGS ?= --xla_backend_optimization_level=0
test: $(STAMP)
	@logs=$$(mktemp -d); \
	flags=$$(echo $${XLA_FLAGS:-} $(TEST_XLA_FLAGS)); \
	if [ -n "$$flags" ]; then export XLA_FLAGS="$$flags"; else unset XLA_FLAGS; fi; \
	run() { KERAS_BACKEND=$$1 $(PY) -m pytest -q -p no:cacheprovider --basetemp=$$logs/tmp-$$1 tests \
		> $$logs/$$1.log 2>&1; rc=$$?; \
		{ flock 9; echo "=== KERAS_BACKEND=$$1 (exit $$rc)"; cat $$logs/$$1.log; } 9> $$logs/print.lock; return $$rc; }; \
	run jax & jax=$$!; \
	status=0; run tensorflow || status=1; OMP_NUM_THREADS=1 run torch || status=1; \
	wait $$jax || status=1; \
	echo "=== mkdocs build --strict"; \
	$(VENV)/bin/mkdocs build --strict --site-dir $$logs/site || status=1; \
	rm -rf $$logs; exit $$status

lint: $(STAMP)
	$(VENV)/bin/ruff check keras_recon tests examples benchmarks experiments

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache site
