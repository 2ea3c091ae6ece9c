# Two commands set up and run everything: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.physml-installed

.PHONY: run test test-slow test-slurm bench lint clean-runs

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(PY) train.py experiment=quickstart

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

# hardware=slurm on a private single-node cluster (installs slurm-wlm and munge if absent; root)
test-slurm: $(STAMP)
	$(PY) -m pytest -q -s -m slurm tests/test_slurm.py

bench: $(STAMP)
	$(PY) -m pip install -q -e ".[dev,bench]"
	for f in tests/benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

lint: $(STAMP)
	$(VENV)/bin/ruff check .
