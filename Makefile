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

run: $(VENV)/.stamp-issuer
	$(BIN)/signet serve

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Every bench/bench_*.py module, each printing its figures beside their baselines.
bench: $(VENV)/.stamp-dev
	@for module in bench/bench_*.py; do $(BIN)/python -m bench.$$(basename $$module .py) || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
