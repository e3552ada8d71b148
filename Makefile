# Two commands for a newcomer: `make repro` runs the pipeline, `make test` runs the tests.
# Both set up what they need: uv, the locked virtual environment and a reachable copy of the data.

SHELL := /bin/bash
VENV := .venv
# Stage commands call `python`: the project's environment comes first on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(HOME)/.local/bin:$(PATH)

.PHONY: setup data browser repro cnn plots test test-fast lint format bench remote-up remote-down push pull report
PLOTS_TEMPLATE := build/plots-template.html

# --compile-bytecode: with .pyc files written once here, `import tensorflow` takes about 4.5 s
# instead of 10 s in every stage, even where PYTHONDONTWRITEBYTECODE stops Python writing them.
$(VENV)/.synced: pyproject.toml uv.lock Makefile
	@if ! command -v uv >/dev/null; then python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv; fi
	uv sync --locked --compile-bytecode
	@touch $@

setup: $(VENV)/.synced

data: setup
	@bash scripts/ensure-data.sh

# The check stage first, outside DVC too: DVC parses params.yaml before any stage and expands
# YAML aliases as it goes (a "billion laughs" file takes it to 8 GB); the loader refuses them.
repro: setup data
	python -m fmnist.stages check
	dvc repro

# The tuned CNN as a DVC experiment beside the committed dense run (README: "Beyond the
# tutorial"): chosen on the seeded validation split (bench/tune_cnn.py) to train within five
# minutes on this project's 2-core reference machine.
CNN_SETTINGS := -S train.model=cnn -S train.epochs=30 -S train.batch_size=512 \
  -S train.learning_rate=0.004 -S train.lr_schedule=cosine -S train.warmup_epochs=2 \
  -S train.label_smoothing=0.1 -S train.flip=true -S train.test_time_flip=true \
  -S 'train.cnn.filters=[16,32]' -S train.cnn.dropout=0.0 -S train.cnn.dense_dropout=0.2

cnn: setup data
	dvc exp run $(CNN_SETTINGS)
	dvc exp show --drop '.*' --keep 'Experiment|^test_accuracy$$|^train_accuracy$$|^train\.model$$'

# vega inlined, so the page renders offline (DVC's default page loads it from a CDN).
$(PLOTS_TEMPLATE): scripts/plots-template.sh
	@command -v npm >/dev/null && bash scripts/plots-template.sh $@ \
	  || echo "plots: no npm to fetch vega; dvc plots show will use DVC's online page"

# `dvc plots show` into dvc_plots/index.html; open it in a browser.
plots: setup $(PLOTS_TEMPLATE)
	dvc plots show $$([ -f $(PLOTS_TEMPLATE) ] && echo --html-template $(PLOTS_TEMPLATE))

# Headless Chromium for the test that looks at the rendered plots page.
browser:
	@bash scripts/ensure-browser.sh

lint: setup
	ruff check .
	ruff format --check .

format: setup
	ruff format .
	ruff check --fix .

# The whole suite, on both cores: pytest-xdist keeps each test file in one worker (--dist
# loadfile), so a file's project copy or server is built once.
test: setup data browser $(PLOTS_TEMPLATE) lint
	pytest -n 2 --dist loadfile

# The edit loop: no dvc subprocess, no browser, no server, no training beyond a few batches.
test-fast: setup data
	pytest -m "not slow" -q

bench: setup data
	python bench/run.py

# A local S3 server (rclone serve s3 on 127.0.0.1, objects under ~/.cache/fmnist/s3) as this
# clone's default DVC remote, in .dvc/config.local. Idempotent; PORT picks another port.
PORT ?= 9021
remote-up: setup
	python -m fmnist.tools.remote up --port $(PORT)

remote-down: setup
	python -m fmnist.tools.remote down

# dvc push / pull through the configured remote, with a hint where DVC's message is opaque.
push: setup
	python -m fmnist.tools.remote push

pull: setup
	python -m fmnist.tools.remote pull

# The workspace against BASE (default main) in Markdown, as CI posts it on a pull request.
BASE ?= main
report: setup
	python -m fmnist.tools.report $(BASE)
