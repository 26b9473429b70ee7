# The README's two commands: `make run` (main job) and `make test` (whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU machines take the CPU wheel of torch (plain `torch` would pull several GB of CUDA build).
TORCH_CPU ?= torch==2.13.0
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install run test test-unit lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	if ! command -v nvidia-smi >/dev/null 2>&1; then $(PY) -m pip install --quiet "$(TORCH_CPU)"; fi
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: install
	$(VENV)/bin/moodwire serve --config configs/serve.yaml --host 127.0.0.1 --port 8000

# The browser tier (tests/browser) runs when /usr/bin/chromium exists, else one skip line says why.
test: install lint
	$(PY) -m pytest -q -rs tests

# The fast tier: no Ray, no database, no real model (tests marked slow load the default models).
test-unit: install
	$(PY) -m pytest -q tests/unit -m "not slow"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info

# Cluster forms of configs/serve.yaml (docs/CLUSTER.md): regenerate them, or fail if stale.
.PHONY: kuberay kuberay-check

kuberay: install
	$(PY) -m deploy.generate

kuberay-check: install
	$(PY) -m deploy.generate --check

# Every benchmark (docs/PERFORMANCE.md): JSON lines in bench-results/, then the plot.
# BENCH_DB=postgresql+psycopg2://... runs the database figures on PostgreSQL.
.PHONY: bench
BENCH_OUT ?= bench-results
BENCH_DB ?=
BENCH_DB_ARG := $(if $(BENCH_DB),--database-url $(BENCH_DB),)
MOODWIRE := $(VENV)/bin/moodwire

bench: install
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	mkdir -p $(BENCH_OUT)
	$(MOODWIRE) bench raw --json > $(BENCH_OUT)/raw.jsonl
	$(MOODWIRE) bench naive --json $(BENCH_DB_ARG) > $(BENCH_OUT)/naive.jsonl
	$(MOODWIRE) bench online --json $(BENCH_DB_ARG) > $(BENCH_OUT)/online.jsonl
	$(MOODWIRE) bench backfill --json $(BENCH_DB_ARG) > $(BENCH_OUT)/backfill.jsonl
	$(MOODWIRE) bench backfill --short --json $(BENCH_DB_ARG) > $(BENCH_OUT)/backfill-short.jsonl
	$(MOODWIRE) bench naive --json --pipeline-config configs/moodwire-int8.yaml $(BENCH_DB_ARG) > $(BENCH_OUT)/naive-int8.jsonl
	$(MOODWIRE) bench online --json --concurrency 1,4,16 --pipeline-config configs/moodwire-int8.yaml $(BENCH_DB_ARG) > $(BENCH_OUT)/online-int8.jsonl
	$(MOODWIRE) bench backfill --json --pipeline-config configs/moodwire-int8.yaml $(BENCH_DB_ARG) > $(BENCH_OUT)/backfill-int8.jsonl
	$(MOODWIRE) bench precision --json $(if $(GOEMOTIONS),--goemotions $(GOEMOTIONS),) > $(BENCH_OUT)/precision.jsonl
	$(MOODWIRE) bench ingest --json $(BENCH_DB_ARG) > $(BENCH_OUT)/ingest.jsonl
	$(MOODWIRE) bench aggregate --json $(BENCH_DB_ARG) > $(BENCH_OUT)/aggregate.jsonl
	$(MOODWIRE) bench overview --json $(BENCH_DB_ARG) > $(BENCH_OUT)/overview.jsonl
	$(PY) -m moodwire.bench.plot $(BENCH_OUT)/online.jsonl $(BENCH_OUT)/online-int8.jsonl docs/bench-online.png

# The page's charting library (serve_app/page/static/vendor/uplot), vendored from the npm
# package so nothing loads from the internet at run time; its version is recorded beside it.
.PHONY: vendor-uplot
UPLOT_VERSION ?= 1.6.32
UPLOT_DIR := serve_app/page/static/vendor/uplot
vendor-uplot:
	rm -rf /tmp/moodwire-uplot && mkdir -p /tmp/moodwire-uplot $(UPLOT_DIR)
	cd /tmp/moodwire-uplot && npm pack --silent uplot@$(UPLOT_VERSION) >/dev/null && tar xzf uplot-$(UPLOT_VERSION).tgz
	cp /tmp/moodwire-uplot/package/dist/uPlot.iife.min.js /tmp/moodwire-uplot/package/dist/uPlot.min.css $(UPLOT_DIR)/
	cp /tmp/moodwire-uplot/package/LICENSE $(UPLOT_DIR)/LICENSE.txt
	echo "uplot $(UPLOT_VERSION) from npm (npm pack uplot@$(UPLOT_VERSION)), MIT licence: LICENSE.txt" > $(UPLOT_DIR)/VERSION.txt
	rm -rf /tmp/moodwire-uplot

# The README's pictures of the page (docs/page-overview.png, docs/page-topic.png): a demo
# database, the app on a local Ray, Debian's chromium.
.PHONY: screenshots
screenshots: install
	$(PY) -m moodwire.bench.screenshots
