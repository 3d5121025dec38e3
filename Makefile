# docner — `make help` lists the targets. The README's two commands are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.docner-installed
SAMPLES ?= build/samples
LAKE ?= lake
ENV ?= local
PYTEST_ARGS ?=

# Spark's Python workers must run the venv's interpreter; Tesseract must run single-threaded.
export PYSPARK_PYTHON := $(abspath $(BIN)/python)
export PYSPARK_DRIVER_PYTHON := $(abspath $(BIN)/python)
export OMP_THREAD_LIMIT := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

READER_VENV ?= .venv-reader
READER_STAMP := $(READER_VENV)/.docner-installed

.PHONY: help os-deps venv reader samples run test lint lock clean

help: ## Show the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-10s %s\n", $$1, $$2}'

os-deps: ## Install Java 17 and Tesseract (English) with apt-get, only if missing
	@bash scripts/os-deps.sh

$(STAMP): requirements.lock setup.cfg pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "docner needs Python 3.11, got " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

venv: $(STAMP) ## Create .venv with the hash-locked dependencies and docner itself

$(READER_STAMP): requirements-reader.lock
	$(PYTHON) -m venv $(READER_VENV)
	$(READER_VENV)/bin/pip install --quiet --require-hashes -r requirements-reader.lock
	@touch $@

reader: $(READER_STAMP) ## A separate venv with DuckDB + its delta extension, the tests' independent reader

samples: venv ## Generate the sample contract PDFs into build/samples
	$(BIN)/docner samples --out $(SAMPLES)

run: os-deps venv ## Set up, generate the samples and run the whole pipeline on them
	$(BIN)/docner samples --out $(SAMPLES)
	$(BIN)/docner run --input $(SAMPLES) --lake $(LAKE) --env $(ENV)

test: os-deps venv reader lint ## Set up, lint (ruff, mypy), then run the test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv ## ruff and mypy
	$(BIN)/ruff check jobs udfs tests benchmarks
	$(BIN)/ruff format --check jobs udfs tests benchmarks
	$(BIN)/mypy

lock: ## Re-resolve requirements.lock (exact pins + hashes) from setup.cfg and requirements.in
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/pip install --quiet pip-tools==7.6.2
	build/lock-venv/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links --extra transformers --extra dev \
	  -o requirements.lock setup.cfg requirements.in

clean: ## Remove the venv, the samples, the lake and caches
	rm -rf $(VENV) $(READER_VENV) build $(LAKE) .pytest_cache .mypy_cache .ruff_cache .hypothesis spark-warehouse
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
