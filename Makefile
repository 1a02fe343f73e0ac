# The two commands of the README's quick start. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/python app.py

# axe-core, the accessibility checker the browser tests load into each page, pinned by
# tests/browser/package-lock.json. Without npm the accessibility tests skip, saying why.
AXE := tests/browser/node_modules/.package-lock.json
$(AXE): tests/browser/package.json tests/browser/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the accessibility tests will be skipped (apt-get install -y npm)"; fi

# PYTEST_ARGS narrows a run, e.g. make test PYTEST_ARGS="tests/core/test_patch.py -x".
test: $(VENV)/.dev $(AXE)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff (style), mypy (types, and both stores against the Store protocol) and lint-imports (the
# layers of pyproject.toml: a wrong import fails here, not in review).
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# After editing requirements.in or requirements-dev.in: resolve them again, with every indirect
# dependency pinned and hashed, into requirements.txt and requirements-dev.txt. pip-tools runs
# from a venv of its own so that it never lands in the app's.
LOCK_VENV := .venv-lock
COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet \
	--generate-hashes --allow-unsafe --strip-extras --no-emit-find-links --no-emit-index-url

lock:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check pip-tools==7.6.2
	$(COMPILE) --output-file requirements.txt requirements.in
	$(COMPILE) --output-file requirements-dev.txt requirements-dev.in
