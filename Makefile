# keras_fer: every target runs inside .venv, created from requirements*.txt when missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# uv installs the same requirements as pip would, in parallel; it compiles the bytecode as pip
# does (where PYTHONDONTWRITEBYTECODE is set, every process would compile TensorFlow again)
UV := $(VENV)/bin/uv pip install -q --compile-bytecode --python $(PY)
FER2013_SRC ?= ../shared/datasets/fer2013.zip
DATA ?= data
RUN ?= saved_models/latest
# evaluate/visualize/export/predict use the released model when there is one, else make train's
MODEL_DIR ?= $(if $(wildcard saved_models/best/model.keras),saved_models/best,$(RUN))
INPUT ?= $(DATA)/samples

.PHONY: setup data train tune evaluate visualize export predict bench release lint test test-e2e test-long clean

# TensorFlow's CUDA libraries (requirements-gpu.txt, 4 GB) only where a GPU is: nvidia-smi works,
# or GPU=1 is given (GPU=0 leaves them out); elsewhere requirements.txt's plain tensorflow.
GPU ?= $(shell nvidia-smi >/dev/null 2>&1 && echo 1 || echo 0)

$(STAMP): $(wildcard requirements*.txt) pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q uv
	$(UV) -r requirements-dev.txt $(if $(filter 1,$(GPU)),-r requirements-gpu.txt)
	$(UV) --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

$(DATA)/fer2013.npz: | $(STAMP)
	$(PY) -m keras_fer.data prepare --src "$(FER2013_SRC)" --out $(DATA)

data: $(DATA)/fer2013.npz

# The main job: train the default recipe (GPU: recipes/best.json; CPU: recipes/cpu.json), then evaluate.
# Run again after an interruption it resumes; over a finished RUN it stops: FORCE=1 replaces it.
train: data
	$(PY) -m keras_fer.train --auto --data $(DATA) --out $(RUN) $(if $(FORCE),--force)
	$(PY) -m keras_fer.evaluate $(RUN) --data $(DATA) --split PublicTest,PrivateTest

# A planned search: its first line gives the time budget (without a GPU 45 min unless BUDGET=2h,
# BUDGET=none for no limit) and the expected trials; SPACE=efficient (default) or blockcnn.
# It ends with the table and the best retrained and evaluated, beside make train's RUN when that
# was evaluated (--baseline); `make release RUN=...` releases it.
tune: data
	$(PY) -m tuning --data $(DATA) $(if $(BUDGET),--time-budget $(BUDGET)) $(if $(SPACE),--space $(SPACE)) $(if $(wildcard $(RUN)/eval/report.json),--baseline $(RUN))

evaluate: data
	$(PY) -m keras_fer.evaluate $(MODEL_DIR) --data $(DATA) --split PublicTest,PrivateTest --tta tencrop

visualize: data
	$(PY) -m keras_fer.visualize $(MODEL_DIR) --data $(DATA) --out $(MODEL_DIR)/vis

export: data
	$(PY) -m keras_fer.export $(MODEL_DIR) --data $(DATA)

predict: data
	$(PY) -m keras_fer.predict $(MODEL_DIR) $(INPUT) --no-detect

bench: data
	$(PY) -m keras_fer.bench --data $(DATA) --out runs/bench/bench-$$(date +%Y%m%d-%H%M%S).jsonl

# Release RUN (default make train's) as saved_models/best: reports, export, model card. FORCE=1 replaces one.
release: data
	$(PY) -m keras_fer.release $(RUN) --data $(DATA) --out saved_models/best $(if $(FORCE),--force)

# Lint (ruff, configured in pyproject.toml): pyflakes, pycodestyle and import order; CI runs it first.
lint: setup
	$(VENV)/bin/ruff check .

# Tests: the whole suite on TensorFlow (the default backend), then the backend-agnostic part on JAX;
# each on TEST_WORKERS pytest-xdist workers (a module's tests stay on one, with its fixtures;
# the longest modules first: tests/conftest.py LONGEST_FIRST).
# `make test` is the quick suite; `make test-e2e` the end-to-end runs (tests/conftest.py E2E:
# whole commands, searches, several devices and processes). CI runs both as `make test E2E=1`:
# the same tests in one run per backend, so the workers start once and share one tail, less the
# tests marked long (the slowest end-to-end checks, kept out of CI's 8 minutes: pytest.ini),
# which `make test-long` runs (and `make test-e2e`).
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder
test: setup
	$(PYTEST) -m "$(if $(E2E),not long,not e2e)" tests
	KERAS_BACKEND=jax $(PYTEST) -m "backends$(if $(E2E),, and not e2e)" tests

test-e2e: setup
	$(PYTEST) -m e2e tests
	KERAS_BACKEND=jax $(PYTEST) -m "backends and e2e" tests

test-long: setup
	$(PYTEST) -m long tests

clean:
	rm -rf $(VENV) $(DATA)
