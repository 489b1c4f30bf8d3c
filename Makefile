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
	$(BIN)/signet dev

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Issuer benchmarks (wrk from Debian). The verifier bench joins when it lands.
bench: $(VENV)/.stamp-dev
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python -m bench.bench_issuer

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
