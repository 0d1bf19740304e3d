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

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# The real FHIR server used by the integration tests lives in its own venv (it pins its own deps).
$(FHIRVENV)/.installed:
	$(PYTHON) -m venv $(FHIRVENV)
	$(FHIRVENV)/bin/pip install -q --upgrade pip
	$(FHIRVENV)/bin/pip install -q 'sekmet-fhir==0.1.1'
	touch $@

# A second CDS Hooks implementation whose models must parse our JSON (tests/service/test_second_opinion.py).
# Its own venv: it pins an older fhir.resources.
HCVENV ?= .venv-healthchain
$(HCVENV)/.installed:
	$(PYTHON) -m venv $(HCVENV)
	$(HCVENV)/bin/pip install -q --upgrade pip
	$(HCVENV)/bin/pip install -q 'healthchain[sandbox]==0.16.1'
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
