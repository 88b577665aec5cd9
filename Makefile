# The two set-up commands: `make run` and `make test`. Both create the environment first.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv

.PHONY: run test check format openapi docs migrate bench bench-domain bench-http bench-courses bench-cds soak fuzz startup env uv

uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv

env: uv
	@$(UV) sync --frozen --quiet

migrate: env
	$(UV) run --frozen python -m db.migrate

run: migrate
	$(UV) run --frozen python -m api

check: env
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen ruff check .
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports

test: check
	$(UV) run --frozen pytest

format: env
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

openapi: env
	$(UV) run --frozen python -m api.openapi > openapi/openapi.json

# docs/rules.md: the rule catalogue, generated from the code (a test fails when it is stale).
docs: env
	$(UV) run --frozen python -m api.catalogue_doc docs/rules.md

bench-domain: env
	$(UV) run --frozen python -m bench.domain

bench-http: env
	$(UV) run --frozen python -m bench.http

bench-courses: env
	$(UV) run --frozen python -m bench.courses

bench-cds: env
	$(UV) run --frozen python -m bench.cds

bench: env
	$(UV) run --frozen python -m bench.all

# Load and fault behaviour (bounded; they stop by themselves and print their figures).
soak: env
	$(UV) run --frozen python -m ops.soak

fuzz: env
	$(UV) run --frozen python -m ops.fuzz

startup: env
	$(UV) run --frozen python -m ops.startup
