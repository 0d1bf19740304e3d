# Two commands do all set-up on a fresh machine:
#   make run   - start the service on http://127.0.0.1:8080 (SQLite, demo patients, dev trust)
#   make test  - lint, type-check, architecture check and every test
PYTHON ?= python3
VENV   ?= .venv
FHIRVENV ?= .venv-fhir
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test lint typecheck arch pytest bench install fhir-server healthchain lforms clean

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

# The npm parts, from the npm registry at the versions of package-lock.json into node_modules/ (never
# committed, never from a CDN): NLM LHC-Forms renders the SMART app's SDC form (served by the app itself),
# and axe-core checks accessibility in the browser tests. Without npm the app still works (the structured
# form page says so and links to the server-side form) and the axe tests skip, or fail when CI is set.
NODE_STAMP := node_modules/.nelm-installed
$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund && touch $@; \
	else echo "npm not found: LHC-Forms (SDC form) and axe-core (accessibility tests) not installed"; fi

lforms: $(NODE_STAMP)

# Kept for the command the browser tests print when axe-core is missing.
node_modules/axe-core/axe.min.js: $(NODE_STAMP)

fhir-server: $(FHIRVENV)/.installed

healthchain: $(HCVENV)/.installed

run: install lforms
	$(BIN)/nelm-cds serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check nelm_fhir cds_hooks tests bench

typecheck: install
	$(BIN)/mypy

arch: install
	$(BIN)/lint-imports

pytest: install fhir-server healthchain lforms
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck arch pytest

bench: install fhir-server
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(FHIRVENV) $(HCVENV) node_modules .pytest_cache .mypy_cache .ruff_cache instance
