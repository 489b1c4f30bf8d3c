# The README's two commands: `make run` (start Signet on embedded defaults) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
export AWS_EC2_METADATA_DISABLED := true

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# One stamp per extra: reinstall only when the dependency list changes.
$(VENV)/.stamp-issuer: pyproject.toml requirements.lock | $(BIN)/python
	$(PIP) -c requirements.lock -e '.[issuer]'
	@touch $@

$(VENV)/.stamp-dev: pyproject.toml requirements.lock | $(BIN)/python
	$(PIP) -c requirements.lock -e '.[dev]'
	@touch $@ $(VENV)/.stamp-issuer

# npm packages of the interop tests (node jose, aws-jwt-verify), pinned by the lockfile:
# reinstalled only when it changes.
NODE_DIR := tests/interop/node
$(NODE_DIR)/node_modules/.stamp: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: $(VENV)/.stamp-issuer
	$(BIN)/signet dev

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check .

test: lint $(NODE_DIR)/node_modules/.stamp
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache $(NODE_DIR)/node_modules tests/artifacts
