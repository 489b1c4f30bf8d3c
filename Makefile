# The README's two commands: `make run` (start Signet on embedded defaults) and `make test`.
# Each first installs the Debian packages it needs when missing (tools/debian-deps: as root with
# apt-get, otherwise it stops with the exact command), then the venv, then runs.
# `make deploy-check` validates the deployment files and `make docs` builds the docs site with
# `mkdocs build --strict` (both part of `make test`).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
export AWS_EC2_METADATA_DISABLED := true

.PHONY: run test test-fast lint docs deploy-check bench fuzz soak clean deps-run deps-test deps-deploy

deps-run deps-test deps-deploy: deps-%:
	@PYTHON=$(PYTHON) tools/debian-deps $*

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Both distributions editable from this checkout: signet-jwt (the library, `signet`) and
# signet-jwt-issuer (issuer/, the `signet` command); the checkout's `app` imports as it is.
# A venv made before the rename holds the old `signet` distribution: it goes first, since its
# files (bin/signet) would otherwise be removed from under the new one later.
EDITABLE := -e '.[verifier,kms,metrics]' -e ./issuer
DIST_FILES := pyproject.toml issuer/pyproject.toml issuer/hatch_build.py requirements.lock
OLD_DIST := $(BIN)/python -m pip uninstall --yes --quiet --disable-pip-version-check signet 2>/dev/null || true

# One stamp per install: reinstall only when the dependency lists change.
$(VENV)/.stamp-issuer: $(DIST_FILES) | $(BIN)/python
	@$(OLD_DIST)
	$(PIP) -c requirements.lock $(EDITABLE)
	@touch $@

$(VENV)/.stamp-dev: $(DIST_FILES) requirements-dev.txt | $(BIN)/python
	@$(OLD_DIST)
	$(PIP) -c requirements.lock -r requirements-dev.txt
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

run: deps-run $(VENV)/.stamp-issuer
	$(BIN)/signet dev

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

# The docs site (mkdocs.yml, docs/, into the git-ignored site/). --strict with the validation
# block of mkdocs.yml: a broken link or anchor, a page left out of the nav, or a README section
# a page includes that is gone fails the build.
docs: $(VENV)/.stamp-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# Kubernetes: each overlay rendered with `kubectl kustomize` (kubectl from Debian: tools/debian-deps),
# the output and the examples validated against the oldest and newest versions they support.
K8S_VERSIONS := 1.30.0 1.37.0
K8S_OVERLAYS := $(notdir $(wildcard deploy/kubernetes/overlays/*))
K8S_RENDERED := $(VENV)/deploy-check/kubernetes
K8S_FILES    := $(addprefix $(K8S_RENDERED)/,$(addsuffix .yaml,$(K8S_OVERLAYS))) $(wildcard deploy/kubernetes/examples/*.yaml)
CFN_MODES    := $(VENV)/deploy-check/cloudformation

deploy-check: deps-deploy $(VENV)/.stamp-dev $(VENV)/.stamp-checkov
	promtool check rules deploy/prometheus/signet-alerts.yaml
	promtool test rules deploy/prometheus/signet-alerts.test.yaml
	$(BIN)/hadolint Dockerfile
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	@mkdir -p $(K8S_RENDERED)
	@for overlay in $(K8S_OVERLAYS); do \
	  echo "kubectl kustomize deploy/kubernetes/overlays/$$overlay"; \
	  kubectl kustomize deploy/kubernetes/overlays/$$overlay > $(K8S_RENDERED)/$$overlay.yaml || exit 1; \
	done
	@for version in $(K8S_VERSIONS); do \
	  echo "kubernetes-validate --strict -k $$version $(K8S_FILES)"; \
	  $(BIN)/kubernetes-validate --strict --quiet -k $$version $(K8S_FILES) || exit 1; \
	done
	$(BIN)/cfn-lint deploy/aws/*.yaml
	@$(BIN)/python deploy/aws/key_modes.py $(CFN_MODES)
	$(VENV)/checkov/bin/checkov --framework dockerfile kubernetes cloudformation \
	  --skip-download --quiet --compact \
	  -f Dockerfile $(addprefix -f ,$(K8S_FILES)) $$(printf -- '-f %s ' $(CFN_MODES)/*.yaml)

test: deps-test lint docs deploy-check $(NODE_DIR)/node_modules/.stamp
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The inner loop: the unit tier alone (no network, no processes: no Redis, moto, node or
# Chromium needed), in seconds. `make test` runs it too, with every other tier.
test-fast: $(VENV)/.stamp-dev
	$(BIN)/python -m pytest -q tests/unit $(PYTEST_ARGS)

# A long randomized fuzz run (not in CI): the hypothesis "fuzz" profile, FUZZ_EXAMPLES examples
# per property and per API operation; failures found are kept in .hypothesis/ and replayed first.
FUZZ_EXAMPLES ?= 5000
fuzz: $(VENV)/.stamp-dev
	HYPOTHESIS_PROFILE=fuzz SIGNET_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
	  $(BIN)/python -m pytest -p no:cacheprovider tests/unit/test_fuzz_verifier.py tests/integration/test_fuzz_openapi.py $(PYTEST_ARGS)

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
	rm -rf $(VENV) site .pytest_cache .ruff_cache .mypy_cache .hypothesis $(NODE_DIR)/node_modules tests/artifacts
