# The one task runner: humans and CI call the same targets.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-fast lint fmt typecheck bench setup demo clean coverage

$(STAMP): requirements/base.txt requirements/dev.txt pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "Python 3.11 is needed (set PY=/path/to/python3.11)"; exit 1; }
	# A venv left half-made (an interrupted first run) is made again rather than used.
	test -x $(BIN)/pip || $(PY) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/base.txt -r requirements/dev.txt
	# The project itself: a .pth puts it on the path and bin/flotilla runs its commands.
	$(BIN)/python -c 'import site,pathlib; pathlib.Path(site.getsitepackages()[0],"flotilla.pth").write_text(str(pathlib.Path.cwd())+"\n")'
	printf '#!/bin/sh\nexec "%s/python" -m flotilla.cli "$$@"\n' "$$(cd $(BIN) && pwd)" > $(BIN)/flotilla
	chmod +x $(BIN)/flotilla
	touch $(STAMP)

setup: $(STAMP)

## make run: install, migrate the SQLite database, load demo data once, serve on :8000 with a
## background-job worker beside the web server (its lines start with [worker])
run: $(STAMP)
	$(BIN)/flotilla migrate --no-input -v0
	$(BIN)/flotilla collectstatic --no-input -v0
	$(BIN)/flotilla load-demo --if-empty
	$(BIN)/flotilla demo-logins
	@echo "Serving on http://$(HOST):$(PORT)/ with a background worker (Ctrl-C stops both)"
	@# Ctrl-C reaches both (one process group): the worker finishes the job in hand and stops,
	@# and the shell waits for it. If gunicorn stops by itself (say the port is taken) or the
	@# shell is sent SIGTERM, the worker is stopped too. Either way no worker is left behind.
	@$(BIN)/flotilla worker & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT; \
	trap 'trap "wait $$worker" EXIT; exit 130' INT; \
	trap 'exit 143' TERM; \
	$(BIN)/gunicorn flotilla.wsgi -k flotilla.serving.QueueTimeoutWorker --bind $(HOST):$(PORT) --workers 2 --threads 4 --access-logfile -

## make test: lint, then the whole suite (unit, integration, browser) in one process per
## core, with branch coverage and its floors; COVERAGE=0 leaves coverage out, as CI's
## PostgreSQL run does (ADR 0032)
COVERAGE ?= 1
PARALLEL ?= -n auto --dist worksteal
ifneq ($(COVERAGE),0)
COVERAGE_ARGS := --cov --cov-branch --cov-report=term:skip-covered --cov-report=xml
endif
test: lint
	$(BIN)/pytest $(PARALLEL) --durations=25 -p no:cacheprovider $(COVERAGE_ARGS)
	$(if $(COVERAGE_ARGS),$(BIN)/python scripts/coverage_floor.py coverage.xml)

test-fast: $(STAMP)
	$(BIN)/pytest $(PARALLEL) -x -q -m "not browser"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/check_layers.py
	$(BIN)/mypy --strict flotilla/planning/core flotilla/opel

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/run.py

## make bench-load: the load test, not part of `make bench` (Locust against gunicorn with the
## production settings on a scratch PostgreSQL database at 127.0.0.1:5432; about 10–14 minutes).
## Shorter: make bench-load LOAD_ARGS="--steady 20 --burst 10 --step 15 --max-steps 2"
.PHONY: bench-load
bench-load: $(STAMP)
	$(BIN)/python bench/load/run.py $(LOAD_ARGS)

clean:
	rm -rf var/ .pytest_cache .mypy_cache .ruff_cache coverage.xml .coverage
