# Two commands do all set-up on a fresh machine:
#   make run   - start the service on http://127.0.0.1:8080 (SQLite, demo patients, dev trust)
#   make test  - lint, type-check, architecture check and every test
PYTHON ?= python3
VENV   ?= .venv
FHIRVENV ?= .venv-fhir
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test lint typecheck arch pytest bench install fhir-server healthchain clean

# Every install is pinned by a constraints file (requirements/), so next month's machine gets the same
# versions of the product's dependencies, the linters and the type checker.
CONSTRAINTS ?= requirements/constraints.txt

$(BIN)/.installed: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c $(CONSTRAINTS) pip
	$(BIN)/pip install -q -c $(CONSTRAINTS) -e '.[dev,text]'
	touch $@

# The real FHIR server used by the integration tests lives in its own venv, pinned by its own constraints
# (order-only prerequisite: after changing those pins, `make clean` and run again).
$(FHIRVENV)/.installed: | requirements/fhir-server.txt
	$(PYTHON) -m venv $(FHIRVENV)
	$(FHIRVENV)/bin/pip install -q -c requirements/fhir-server.txt pip
	$(FHIRVENV)/bin/pip install -q -c requirements/fhir-server.txt 'sekmet-fhir==0.1.1'
	touch $@

# A second CDS Hooks implementation whose models must parse our JSON (tests/service/test_second_opinion.py).
# Its own venv: it pins an older fhir.resources.
HCVENV ?= .venv-healthchain
$(HCVENV)/.installed: | requirements/healthchain.txt
	$(PYTHON) -m venv $(HCVENV)
	$(HCVENV)/bin/pip install -q -c requirements/healthchain.txt pip
	$(HCVENV)/bin/pip install -q -c requirements/healthchain.txt 'healthchain[sandbox]==0.16.1'
	touch $@

install: $(BIN)/.installed

fhir-server: $(FHIRVENV)/.installed

healthchain: $(HCVENV)/.installed

run: install
	$(BIN)/nelm-cds serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check nelm_fhir cds_hooks tests bench

typecheck: install
	$(BIN)/mypy

arch: install
	$(BIN)/lint-imports

# axe-core for the accessibility browser tests, from the npm registry into node_modules/ (never a CDN).
# Without npm the target says so and the axe tests skip with that reason (they fail instead when CI is set).
node_modules/axe-core/axe.min.js: package.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund && touch $@; \
	else echo "npm not found: the axe-core accessibility tests will be skipped (install nodejs npm)"; fi

pytest: install fhir-server healthchain node_modules/axe-core/axe.min.js
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck arch pytest

bench: install fhir-server
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(FHIRVENV) $(HCVENV) .pytest_cache .mypy_cache .ruff_cache instance
