# p2psocial: two commands set up a fresh machine.
#   make run    create .venv, install, open the terminal app (p2psocial tui; ARGS=... adds options)
#   make test   create .venv with the dev extra, lint, type-check, run the whole suite
#   make demo   start a few local nodes with generated people and open the app among them
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: run test lint typecheck pytest bench bench-quick soak fuzz clean demo

FUZZ_STAMP   := $(VENV)/.installed-fuzz
BENCH_STAMP  := $(VENV)/.installed-bench
FUZZ_SECONDS ?= 60

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the dependency list changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The bench extra (matplotlib: the report's plots, docs/bench-*.png) on top of dev.
$(BENCH_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# The fuzz extra (atheris), reinstalled when the dependency list changes.
$(FUZZ_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,fuzz]'
	touch $(FUZZ_STAMP)

run: $(STAMP)
	$(BIN)/p2psocial tui $(ARGS)

demo: $(STAMP)
	$(BIN)/p2psocial demo $(ARGS)

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check p2psocial cli tests bench tools
	$(BIN)/ruff format --check p2psocial cli tests bench tools

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python -m bench

bench-quick: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python -m bench --quick

# The crash soak: 100 SIGKILLs of a real daemon under load (tools/soak.py). SOAK_ARGS="--seed N -v"
soak: $(STAMP)
	$(BIN)/python -m tools.soak --kills 100 $(SOAK_ARGS)

# Every fuzz harness with many random examples, then atheris for FUZZ_SECONDS per target.
fuzz: $(FUZZ_STAMP)
	$(BIN)/python -m pytest -q tests/fuzz --hypothesis-profile=fuzz
	$(BIN)/python -m tools.fuzz --seconds $(FUZZ_SECONDS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
