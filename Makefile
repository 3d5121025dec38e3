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
AIRFLOW_VENV ?= .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.docner-installed
LOCK_VENV ?= build/lock-venv
LOCK_STAMP := $(LOCK_VENV)/.docner-installed

# The one install routine of every environment (.venv, .venv-reader, .venv-airflow, the package
# archive, the lock tools): a fresh venv, the pinned pip and setuptools of requirements-bootstrap.lock,
# then exactly the files of the lock (--require-hashes --no-deps: nothing resolved), pip check, and
# the stamp last. See tools/install_env.py and the README's "Installs".
INSTALL_ENV = $(PYTHON) tools/install_env.py

.PHONY: help os-deps venv reader samples run test lint lock clean airflow lock-airflow lock-bootstrap lock-tools dag-stages

help: ## Show the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-12s %s\n", $$1, $$2}'

os-deps: ## Install Java 17 and Tesseract (English) with apt-get, only if missing
	@bash scripts/os-deps.sh

$(STAMP): requirements.lock requirements-bootstrap.lock setup.cfg pyproject.toml
	$(INSTALL_ENV) $(VENV) requirements.lock --editable .

venv: $(STAMP) ## Create .venv with the hash-locked dependencies and docner itself

$(READER_STAMP): requirements-reader.lock requirements-bootstrap.lock
	$(INSTALL_ENV) $(READER_VENV) requirements-reader.lock

reader: $(READER_STAMP) ## A separate venv with DuckDB + its delta extension, the tests' independent reader

# Airflow gets its own venv: its Spark provider installs pyspark files over docner's pyspark.
# The DAGs run docner's own spark-submit from .venv (see airflow_dags/README.md).
$(AIRFLOW_STAMP): requirements-airflow.lock requirements-bootstrap.lock
	$(INSTALL_ENV) $(AIRFLOW_VENV) requirements-airflow.lock

airflow: $(AIRFLOW_STAMP) ## .venv-airflow: Airflow 3 + its Spark provider (requirements-airflow.lock), for the DAGs

dag-stages: venv ## Write airflow_dags/docner_stages.json, the stage registry as the DAG reads it
	$(BIN)/docner stages --format json | $(BIN)/python -m json.tool --indent 1 > airflow_dags/docner_stages.json

samples: venv ## Generate the sample contract PDFs into build/samples
	$(BIN)/docner samples --out $(SAMPLES)

run: os-deps venv ## Set up, generate the samples and run the whole pipeline on them
	$(BIN)/docner samples --out $(SAMPLES)
	$(BIN)/docner run --input $(SAMPLES) --lake $(LAKE) --env $(ENV)

test: os-deps venv reader airflow lint ## Set up, lint (ruff, mypy), then run the test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv ## ruff and mypy
	$(BIN)/ruff check jobs udfs tests benchmarks airflow_dags tools
	$(BIN)/ruff format --check jobs udfs tests benchmarks airflow_dags tools
	$(BIN)/mypy

# Locks are made with pip-compile from the hash-locked requirements-tools.lock. pip-compile keeps
# the pins already in a lock unless told to upgrade: LOCK_ARGS=--upgrade (or
# LOCK_ARGS='--upgrade-package NAME') moves them to the newest releases.
LOCK_ARGS ?=
PIP_COMPILE = $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
  --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

$(LOCK_STAMP): requirements-tools.lock requirements-bootstrap.lock
	$(INSTALL_ENV) $(LOCK_VENV) requirements-tools.lock

lock: $(LOCK_STAMP) ## Re-resolve requirements.lock (exact pins + hashes) from setup.cfg and requirements.in
	$(PIP_COMPILE) --extra transformers --extra dev -o requirements.lock setup.cfg requirements.in

lock-airflow: $(LOCK_STAMP) ## Re-resolve requirements-airflow.lock (exact pins + hashes) from requirements-airflow.in
	$(PIP_COMPILE) -o requirements-airflow.lock requirements-airflow.in

lock-bootstrap: $(LOCK_STAMP) ## Re-resolve requirements-bootstrap.lock (the pip and setuptools every venv starts with)
	$(PIP_COMPILE) -o requirements-bootstrap.lock requirements-bootstrap.in

lock-tools: $(LOCK_STAMP) ## Re-resolve requirements-tools.lock (pip-compile and what it needs)
	$(PIP_COMPILE) -o requirements-tools.lock requirements-tools.in

# --- make package: what spark-submit on a cluster needs, in build/dist (README "Running on a cluster") ---
# The wheel; docner-env.tar.gz, a fresh non-editable venv from requirements.lock packed with venv-pack
# (for --archives ...#environment); docner_submit.py, the application file; conf/, for --conf-dir.
# EXTRAS=transformers adds the transformers extra (torch: the lock's CPU build, GBs);
# PACK_PYSPARK=1 keeps pyspark (left out by default: spark-submit puts the cluster's own on the path);
# PYTHON_PREFIX=/usr links the archive's python to /usr/bin/python3.11 on the nodes, instead of
# the interpreter this venv was built with.
DIST ?= build/dist
PACKAGE_DIR ?= build/package
EXTRAS ?=
PACK_PYSPARK ?= 0
PYTHON_PREFIX ?=
COMPRESS_LEVEL ?= 1
WHEEL := $(DIST)/docner-$(shell sed -n 's/^version = //p' setup.cfg)-py3-none-any.whl
PACKAGE_SOURCES := $(shell find jobs udfs conf -type f ! -name '*.pyc') setup.cfg pyproject.toml README.md
PACKAGE_OPTIONS := extras=$(EXTRAS) pyspark=$(PACK_PYSPARK) python_prefix=$(PYTHON_PREFIX)

.PHONY: package package-options

package: $(DIST)/docner-env.tar.gz ## Build the wheel and the venv-pack archive for spark-submit into build/dist
	cp jobs/spark_entry.py $(DIST)/docner_submit.py
	rm -rf $(DIST)/conf && cp -r conf $(DIST)/conf
	@ls -l $(DIST)

# Rewritten only when the options change, so that the environment is rebuilt then and only then.
$(PACKAGE_DIR)/options: package-options
	@mkdir -p $(@D)
	@echo '$(PACKAGE_OPTIONS)' | cmp -s - $@ || echo '$(PACKAGE_OPTIONS)' > $@

# Built from a copy of the sources, so that setuptools' build/ and egg-info stay out of the checkout.
$(WHEEL): $(STAMP) $(PACKAGE_SOURCES)
	rm -rf $(PACKAGE_DIR)/src && mkdir -p $(PACKAGE_DIR)/src $(DIST)
	cp -r jobs udfs conf setup.cfg pyproject.toml README.md $(PACKAGE_DIR)/src/
	rm -f $(DIST)/docner-*.whl
	$(BIN)/pip wheel --quiet --no-deps --no-build-isolation --wheel-dir $(DIST) $(PACKAGE_DIR)/src

# The wheel installs conf/ into share/docner/conf (setup.cfg data_files; tests/test_config.py
# checks that every conf file is listed). Bytecode is compiled once, on every core
# (pip compiles on one), and packed: Python workers on the nodes do not compile at start. As with
# pip, a file this Python cannot compile is left as it is (torch ships Python 3.12-only tests).
# PYTHON_PREFIX is applied here, not with venv-pack's --python-prefix: venv-pack 0.2.0 turns the
# link bin/python3.11 -> <prefix>/bin/python3.11 into /usr/bin/python3.113.11.
$(PACKAGE_DIR)/env.installed: $(WHEEL) requirements.lock requirements-bootstrap.lock tools/pack_requirements.py \
  $(PACKAGE_DIR)/options
	$(BIN)/python -m tools.pack_requirements $(WHEEL) $(addprefix --extra ,$(EXTRAS)) \
	  $(if $(filter 1,$(PACK_PYSPARK)),,--without pyspark) > $(PACKAGE_DIR)/requirements.txt
	rm -rf $(PACKAGE_DIR)/env
	$(INSTALL_ENV) $(PACKAGE_DIR)/env $(PACKAGE_DIR)/requirements.txt --local $(WHEEL) --no-compile \
	  $(if $(filter 1,$(PACK_PYSPARK)),,--allow-missing pyspark)
	$(PACKAGE_DIR)/env/bin/python -m compileall -qq -j 0 $(PACKAGE_DIR)/env/lib || true
	$(if $(PYTHON_PREFIX),cd $(PACKAGE_DIR)/env/bin && ln -sfn python3.11 python && ln -sfn python3.11 python3 \
	  && ln -sfn $(PYTHON_PREFIX)/bin/python3.11 python3.11 \
	  && sed -i 's|^home = .*|home = $(PYTHON_PREFIX)/bin|' ../pyvenv.cfg)
	@touch $@

$(DIST)/docner-env.tar.gz: $(PACKAGE_DIR)/env.installed
	@mkdir -p $(DIST)
	$(BIN)/venv-pack --prefix $(PACKAGE_DIR)/env --output $@ --compress-level $(COMPRESS_LEVEL) --force --quiet

clean: ## Remove the venv, the samples, the lake and caches
	rm -rf $(VENV) $(READER_VENV) $(AIRFLOW_VENV) build $(LAKE) .pytest_cache .mypy_cache .ruff_cache .hypothesis spark-warehouse
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
