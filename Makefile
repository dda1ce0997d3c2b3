# GaaP developer commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROTOS := $(shell find protos -name '*.proto' | sort)
GEN := gen
GEN_STAMP := $(GEN)/.generated

.PHONY: help setup protos run test test-fast lint fmt bench mutation clean check-generated client

help: ## List the commands
	@grep -hE '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-virtualenv -r requirements.lock
	@touch $@

# Generated code is built, never committed: `gen/` is git-ignored and `make lint`
# fails if anything under it is tracked.
$(GEN_STAMP): $(PROTOS) $(STAMP) scripts/gen_protos.sh
	scripts/gen_protos.sh $(BIN) $(GEN)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

setup: $(GEN_STAMP) ## Create .venv with the pinned dependencies and generate the protobuf code (quick when done)

protos: $(GEN_STAMP) ## Generate Python code and .pyi stubs from protos/ into gen/

run: setup ## Start identity, payments and notify on the embedded defaults (Ctrl-C stops them)
	$(BIN)/gaap-devstack

test: setup ## Run the whole test suite (PostgreSQL and Redis tests run when reachable; required when CI=true)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup check-generated ## ruff check, ruff format --check, mypy strict, import-linter contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy services tests bench gaap_client scripts examples
	$(BIN)/lint-imports

fmt: setup ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check-generated:
	@if [ -n "$$(git ls-files $(GEN))" ]; then echo "generated code under $(GEN)/ must not be committed"; exit 1; fi

client: setup ## Build gaap-client's wheel (the agency library on its own) into dist/
	$(BIN)/python -m scripts.build_client dist

bench: setup ## Run the benchmarks in bench/ and print their figures
	$(BIN)/python -m bench

mutation: setup ## Mutation-test the domain rules and runtime checks (minutes; prints the score per module)
	$(BIN)/python -m scripts.mutation

clean: ## Remove the virtual environment, generated code and local data
	rm -rf $(VENV) $(GEN) var mutants dist .mypy_cache .ruff_cache .pytest_cache .import_linter_cache .grimp_cache
