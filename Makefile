# forecast: `make run` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TORCH  := torch==2.13.0
ARGS   ?=
OFFLINE ?= 1

.DEFAULT_GOAL := help
.PHONY: help install run test quick lint format bench clean

help: ## show this help
	@grep -hE '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)          # the pinned CPU wheel first: nothing later may pull a CUDA build
	$(BIN)/pip install -q -e '.[dev]'
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m forecast.models.fast.build \
	  || echo "fast GRU/RNN kernels unavailable: the TorchScript loops will run"  # compile once (needs ninja + g++)
	touch $(STAMP)

install: $(STAMP) ## create .venv with pinned torch and the package (editable, dev extras)

run: install ## run the default forecast offline on the shipped snapshot (ARGS="model=gru"; OFFLINE=0 tries yfinance first)
	FORECAST_OFFLINE=$(OFFLINE) $(BIN)/python -m forecast $(ARGS)

lint: install ## ruff (lint + format check) and mypy
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/ruff format --check src tests scripts bench
	$(BIN)/mypy

format: install ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests scripts bench
	$(BIN)/ruff format src tests scripts bench

test: lint ## lint, type-check and run the whole test suite (slow end-to-end tests included)
	$(BIN)/pytest

quick: install ## the edit-test loop: pytest without the slow end-to-end tests (make test runs everything)
	$(BIN)/pytest -m "not slow" -q

bench: install ## benchmark the cells against a bare PyTorch loop; writes bench/results.json
	$(BIN)/python bench/bench.py

clean: ## remove outputs, caches and the venv
	rm -rf outputs multirun .pytest_cache .mypy_cache .ruff_cache .hypothesis $(VENV) src/*.egg-info
