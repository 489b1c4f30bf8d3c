# The README's two commands: `make run` (start Signet on embedded defaults) and `make test`.
# `make deploy-check` validates the deployment files (part of `make test`).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
export AWS_EC2_METADATA_DISABLED := true

.PHONY: run test lint deploy-check bench fuzz soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# One stamp per extra: reinstall only when the dependency list changes.
$(VENV)/.stamp-issuer: pyproject.toml requirements.lock | $(BIN)/python
	$(PIP) -c requirements.lock -e '.[issuer]'
	@touch $@

$(VENV)/.stamp-dev: pyproject.toml requirements.lock | $(BIN)/python
	$(PIP) -c requirements.lock -e '.[dev]'
	@touch $@ $(VENV)/.stamp-issuer

# checkov's pins (boto3 1.35, old packaging and networkx) conflict with the issuer's lock,
# so it lives in its own venv inside .venv, installed by uv from its own lock.
$(VENV)/.stamp-checkov: requirements-checkov.lock $(VENV)/.stamp-dev
	rm -rf $(VENV)/checkov
	$(PYTHON) -m venv --without-pip $(VENV)/checkov
	$(BIN)/uv pip install --quiet --no-deps --python $(VENV)/checkov/bin/python -r requirements-checkov.lock
	@touch $@

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
	$(BIN)/mypy

# Kubernetes manifests are validated against the oldest and newest versions they support.
K8S_VERSIONS := 1.30.0 1.37.0
K8S_FILES    := $(wildcard deploy/kubernetes/*.yaml deploy/kubernetes/examples/*.yaml)
CFN_MODES    := $(VENV)/deploy-check/cloudformation

deploy-check: $(VENV)/.stamp-dev $(VENV)/.stamp-checkov
	$(BIN)/hadolint Dockerfile
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	@for version in $(K8S_VERSIONS); do \
	  echo "kubernetes-validate --strict -k $$version deploy/kubernetes/"; \
	  $(BIN)/kubernetes-validate --strict --quiet -k $$version $(K8S_FILES) || exit 1; \
	done
	$(BIN)/cfn-lint deploy/aws/*.yaml
	@$(BIN)/python deploy/aws/key_modes.py $(CFN_MODES)
	$(VENV)/checkov/bin/checkov --framework dockerfile kubernetes cloudformation \
	  --skip-download --quiet --compact \
	  -f Dockerfile $(addprefix -f ,$(K8S_FILES)) $$(printf -- '-f %s ' $(CFN_MODES)/*.yaml)

test: lint deploy-check $(NODE_DIR)/node_modules/.stamp
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# A long randomized fuzz run (not in CI): the hypothesis "fuzz" profile, FUZZ_EXAMPLES examples
# per property and per API operation; failures found are kept in .hypothesis/ and replayed first.
FUZZ_EXAMPLES ?= 5000
fuzz: $(VENV)/.stamp-dev
	HYPOTHESIS_PROFILE=fuzz SIGNET_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
	  $(BIN)/python -m pytest -p no:cacheprovider tests/test_fuzz_verifier.py tests/test_fuzz_openapi.py $(PYTEST_ARGS)

# Every benchmark beside its same-run baseline; the table goes to bench/results/latest.md
# and latest.json (the issuer bench drives wrk, from Debian).
bench: $(VENV)/.stamp-dev
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python -m bench.run_all

# 60 s of load while Redis is killed and restarted and KMS throttles (not part of `make test`,
# which runs a 10 s soak); prints requests, wrong answers, 5xx and RSS at start and end.
soak: $(VENV)/.stamp-dev
	$(BIN)/python -m tests.support.soak --seconds 60

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis $(NODE_DIR)/node_modules tests/artifacts
