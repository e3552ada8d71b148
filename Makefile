# Two commands for a newcomer: `make repro` runs the pipeline, `make test` runs the tests.
# Both set up what they need: uv, the locked virtual environment and a reachable copy of the data.

SHELL := /bin/bash
VENV := .venv
# Stage commands call `python`: the project's environment comes first on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(HOME)/.local/bin:$(PATH)

.PHONY: help setup check data browser repro cnn experiments plots test tests test-fast lint format \
  bench bench-ood bench-serve serve image remote-up remote-down push pull report
.DEFAULT_GOAL := help
PLOTS_TEMPLATE := build/plots-template.html

# `make` alone: every target with its `##` line.
help:
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "  make %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

# --compile-bytecode: with .pyc files written once here, `import tensorflow` takes about 4.5 s
# instead of 10 s in every stage, even where PYTHONDONTWRITEBYTECODE stops Python writing them.
# uv from the package index with pip; a Debian or Ubuntu python3 refuses pip installs (PEP 668)
# unless told --break-system-packages, which --user keeps to ~/.local.
$(VENV)/.synced: pyproject.toml uv.lock Makefile
	@if ! command -v uv >/dev/null; then python3 -m pip install --quiet --user uv \
	  || python3 -m pip install --quiet uv \
	  || python3 -m pip install --quiet --user --break-system-packages uv; fi
	uv sync --locked --compile-bytecode
	@touch $@

setup: $(VENV)/.synced ## the locked environment in .venv (uv installed if missing)

# Bad params fail here, once and in one line, before any other step reads them: the data step
# reads the mirrors from params.yaml, and DVC parses the file before any stage, expanding YAML
# aliases as it goes (a "billion laughs" file takes it to 8 GB); the loader refuses them.
check: setup ## params.yaml through the strict loader
	@python -m fmnist.pipeline.stages check

data: check ## make the Fashion-MNIST files reachable (Debian package, as root)
	@bash scripts/ensure-data.sh

repro: data ## run the pipeline: dvc repro (data -> model -> metrics)
	dvc repro

# The tuned CNN as a DVC experiment beside the committed dense run (README: "Beyond the
# tutorial"): chosen on the seeded validation split (bench/tune_cnn.py) to train within five
# minutes on this project's 2-core reference machine.
CNN_SETTINGS := -S train.model=cnn -S train.epochs=48 -S train.shift=1 -S train.batch_size=512 \
  -S train.learning_rate=0.004 -S train.lr_schedule=cosine -S train.warmup_epochs=2 \
  -S train.label_smoothing=0.1 -S train.flip=true -S train.test_time_flip=true \
  -S 'train.cnn.filters=[16,32]' -S train.cnn.dropout=0.0 -S train.cnn.dense_dropout=0.2

cnn: data ## the tuned CNN as a DVC experiment (a few minutes of training)
	@dvc exp run $(CNN_SETTINGS) || { echo "cnn: the workspace holds the experiment's params:" \
	  "\`git checkout HEAD -- params.yaml dvc.lock\` undoes them" >&2; exit 1; }
	@$(MAKE) --no-print-directory experiments

# The columns that tell runs apart; plain `dvc exp show` is over 1,000 characters wide.
EXP_COLUMNS := Experiment|Created|^test_accuracy$$|^train_accuracy$$|^accuracy_gap$$|^test_loss$$|^train\.(model|epochs|batch_size|learning_rate|seed)$$
experiments: check ## the experiments beside the committed run, in the columns that matter
	@dvc exp show --no-pager --md --drop '.*' --keep '$(EXP_COLUMNS)'

# vega inlined, so the page renders offline (DVC's default page loads it from a CDN).
$(PLOTS_TEMPLATE): scripts/plots-template.sh
	@command -v npm >/dev/null && bash scripts/plots-template.sh $@ \
	  || echo "plots: no npm to fetch vega; dvc plots show will use DVC's online page"

plots: check $(PLOTS_TEMPLATE) ## every plot in one page, dvc_plots/index.html (offline)
	dvc plots show $$([ -f $(PLOTS_TEMPLATE) ] && echo --html-template $(PLOTS_TEMPLATE))

# The shipped model over HTTP (docs/serving.md); SERVE_ARGS for more, e.g. SERVE_ARGS="--port 9000".
SERVE_ARGS ?=
serve: setup ## serve models/model.tflite: a page at http://127.0.0.1:8080/, the API under /v2
	@fmnist serve $(SERVE_ARGS)

# The serving install with models/model.tflite as an OCI image, from Debian's packages (mmdebstrap,
# podman and runc, installed here if missing; as root), rebuilt only when the wheel, the pins, the
# model or the script change. Run it as tests/serve/test_image.py does (runc: crun, podman's
# default, refuses these machines' hybrid cgroups and rlimits), in one line:
#  podman --runtime runc --cgroup-manager cgroupfs run --rm --stop-timeout 35 -p 127.0.0.1:8080:8080
#  --ulimit nofile=10000:10000 --ulimit nproc=4096:4096 localhost/fmnist-serve
image: setup ## the serving image localhost/fmnist-serve: no TensorFlow, the model inside (as root)
	@bash scripts/build-image.sh

# Headless Chromium and its WebDriver for the tests that look at the plots page and the server's.
browser: ## headless Chromium and chromedriver (Debian packages), for the browser tests
	@bash scripts/ensure-browser.sh

lint: setup ## ruff check, ruff format --check, and the architecture's import contracts
	ruff check .
	ruff format --check .
	lint-imports --no-cache

format: setup ## ruff format and ruff check --fix
	ruff format .
	ruff check --fix .

# The whole suite, on both cores: pytest-xdist keeps each test file in one worker (--dist
# loadfile), so a file's project copy or server is built once, and hands out the files in the
# order tests/conftest.py gives them, the longest first (--no-loadscope-reorder).
test: data browser $(PLOTS_TEMPLATE) lint ## the whole suite, what CI runs (about 13 minutes)
	pytest -n 2 --dist loadfile --no-loadscope-reorder

tests: test ## the same as make test

# The edit loop: no dvc subprocess, no browser, no server, no training beyond a few batches;
# on both cores, a file per worker and the longest first, as above.
test-fast: data ## the edit loop: no dvc, browser, server or real training (under a minute)
	pytest -m "not slow" -q -n 2 --dist loadfile --no-loadscope-reorder

bench: data ## the tutorial's training beside this pipeline's, timed in one run (about 8 minutes)
	python bench/run.py

# What the "not like Fashion-MNIST" flag adds to `fmnist predict` and evaluate, against the
# commit before it (a temporary git worktree), interleaved in one run.
bench-ood: data ## the flag's cost: fmnist predict, evaluate and serving before and after it, in one run (about 4 minutes)
	@command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 \
	  || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }; }
	python bench/ood.py

# fmnist serve beside MLServer 1.7.0 (its own venv, build/mlserver-venv, made on first run) under
# wrk on loopback; wrk is Debian's package, installed here if missing (as root).
bench-serve: data ## fmnist serve beside MLServer 1.7.0 under wrk, in one run (about 4 minutes)
	@command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 \
	  || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }; }
	python bench/serve.py

# A local S3 server (rclone serve s3 on 127.0.0.1, objects under ~/.cache/fmnist/s3) as this
# clone's default DVC remote, in .dvc/config.local. Idempotent; PORT picks another port.
PORT ?= 9021
remote-up: setup ## a local S3 server as this clone's DVC remote (PORT=9021)
	python -m fmnist.pipeline.remote up --port $(PORT)

remote-down: setup ## stop the local S3 server
	python -m fmnist.pipeline.remote down

# dvc push / pull through the configured remote, with a hint where DVC's message is opaque.
push: setup ## dvc push, run-cache included
	python -m fmnist.pipeline.remote push

pull: setup ## dvc pull, run-cache included: the committed model without training
	python -m fmnist.pipeline.remote pull

# The workspace against BASE (default main) in Markdown, as CI posts it on a pull request.
BASE ?= main
report: check ## build/report.md: params, metrics and per-class F1 against BASE (main)
	python -m fmnist.pipeline.report $(BASE)
