# Everything a fresh clone needs: `make test`, `make demo`, `make bench`. Only Python ≥ 3.11 and make required.
# The Lambda runtime is python3.12 (template.yaml): the first of these that works is used for the venv.
PYTHON ?= $(shell for p in python3.12 python3.13 python3 python; do \
	if $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then echo $$p; break; fi; done)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: help venv test lint unit demo bench clean

help:
	@echo "make test   - lint, type-check, template lint, the whole test suite"
	@echo "make demo   - run the autoscaler end to end against a local moto server"
	@echo "make bench  - run the benchmarks in bench/ and print the figures"

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "need Python >= 3.11 on PATH (python3.12 preferred: the Lambda runtime)"; exit 1; }
	@echo "creating $(VENV) with $$($(PYTHON) --version)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check autoscaler tests scripts bench
	$(BIN)/ruff format --check autoscaler tests scripts bench
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# `sam build` runs build-<LogicalId> for each function of template.yaml with Metadata: BuildMethod: makefile
# (ScaleUpFunction, ScaleDownFunction) in a scratch copy of the repo, with ARTIFACTS_DIR set to that function's
# artifacts directory; both functions get the same package, built by the recipe below (one make run per function, so
# each target runs it for its own ARTIFACTS_DIR). The package gets autoscaler/, config/ and the runtime wheels
# (requirements.txt) for the Lambda platform - python3.12 on arm64, whatever the build host - and never tests/, .venv/,
# bench/ or scripts/. The build validates config/streams.yaml (a bad file fails the build, not the function) and
# compiles it to config/streams.json, which the functions load without pydantic or YAML (see autoscaler/config.py:
# cold start).
define BUILD_LAMBDA_PACKAGE
$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile --target "$(ARTIFACTS_DIR)" \
	--platform manylinux2014_aarch64 --implementation cp --python-version 3.12 --only-binary=:all: \
	--requirement requirements.txt
rm -rf "$(ARTIFACTS_DIR)/bin"
cp -R autoscaler config "$(ARTIFACTS_DIR)/"
$(BIN)/python -m autoscaler validate-config --config config/streams.yaml --compile "$(ARTIFACTS_DIR)/config/streams.json"
find "$(ARTIFACTS_DIR)" -name __pycache__ -type d -prune -exec rm -rf {} +
@# /var/task is read-only: without shipped bytecode every cold start compiles every module. Only a 3.12 build
@# host can write bytecode the python3.12 runtime accepts; other hosts ship source only.
if $(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))'; then \
	$(BIN)/python -m compileall -q -j 0 --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)" || true; fi
endef

.PHONY: build-ScaleUpFunction build-ScaleDownFunction
build-ScaleUpFunction: $(STAMP)
	$(BUILD_LAMBDA_PACKAGE)

build-ScaleDownFunction: $(STAMP)
	$(BUILD_LAMBDA_PACKAGE)
