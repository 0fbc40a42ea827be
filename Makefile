# Two commands for a newcomer: `make run` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: run test lint typecheck bench clients clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

## Serve the API on the embedded SQLite default (http://127.0.0.1:8000).
run: $(VENV)/.installed
	$(BIN)/relations serve --host 127.0.0.1 --port 8000

## Lint, type-check and run the whole suite (PostgreSQL runs need RELATIONS_TEST_POSTGRES_URL).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

## Load-test our server against a bare Starlette + sqlite3 baseline (loopback, a few minutes).
bench: $(STAMP)
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) \
		|| echo "no wrk: using the Python load generator"
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## Generate the Python and TypeScript clients from openapi.yaml into clients/ (build output),
## then smoke-test both against a live `relations serve` on loopback. Generators are pinned:
## openapi-python-client here (in its own venv: it pins its own httpx), the npm side in
## clientkit/typescript/package-lock.json.
CLIENTS := clients
TS_CLIENT := $(CLIENTS)/typescript
OPENAPI_PYTHON_CLIENT := 0.29.1

$(CLIENTS)/.venv/.installed-$(OPENAPI_PYTHON_CLIENT):
	rm -rf $(CLIENTS)/.venv
	$(PYTHON) -m venv $(CLIENTS)/.venv
	$(CLIENTS)/.venv/bin/pip install -q openapi-python-client==$(OPENAPI_PYTHON_CLIENT)
	touch $@

$(TS_CLIENT)/node_modules/.installed: clientkit/typescript/package.json clientkit/typescript/package-lock.json
	mkdir -p $(TS_CLIENT)
	cp clientkit/typescript/package.json clientkit/typescript/package-lock.json $(TS_CLIENT)/
	cd $(TS_CLIENT) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

clients: $(VENV)/.installed $(CLIENTS)/.venv/.installed-$(OPENAPI_PYTHON_CLIENT) $(TS_CLIENT)/node_modules/.installed
	$(CLIENTS)/.venv/bin/python clientkit/python/generate.py openapi.yaml $(CLIENTS)/python
	rm -rf $(TS_CLIENT)/src $(TS_CLIENT)/dist
	mkdir -p $(TS_CLIENT)/src
	cp clientkit/typescript/tsconfig.json $(TS_CLIENT)/
	cp clientkit/typescript/src/*.ts $(TS_CLIENT)/src/
	cd $(TS_CLIENT) && npx --no-install openapi-typescript ../../openapi.yaml -o src/schema.d.ts
	cd $(TS_CLIENT) && npx --no-install tsc -p .
	$(BIN)/python -m clientkit.run_smoke

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .hypothesis clients
