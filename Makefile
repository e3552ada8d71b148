# Two commands for a newcomer: `make repro` runs the pipeline, `make test` runs the tests.
# Both set up what they need: uv, the locked virtual environment and a reachable copy of the data.

SHELL := /bin/bash
VENV := .venv
# Stage commands call `python`: the project's environment comes first on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(HOME)/.local/bin:$(PATH)

.PHONY: setup data repro test lint format bench

$(VENV)/.synced: pyproject.toml uv.lock
	@if ! command -v uv >/dev/null; then python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv; fi
	uv sync --locked
	@touch $@

setup: $(VENV)/.synced

data:
	@bash scripts/ensure-data.sh

repro: setup data
	dvc repro

lint: setup
	ruff check .
	ruff format --check .

format: setup
	ruff format .
	ruff check --fix .

test: setup data lint
	pytest

bench: setup data
	python bench/run.py
