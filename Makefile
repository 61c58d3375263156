# The Makefile is the interface: every target creates/uses its own virtual environment.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: help demo test check bench lint clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)  ## run the medallion pipeline on the embedded engine and show the result
	$(BIN)/snowmelt demo

test: $(STAMP)  ## install test dependencies and run the whole suite
	sh scripts/install-browser.sh
	$(BIN)/python -m pytest -q

check: $(STAMP)  ## format check, lint, types, tests
	$(BIN)/ruff check snowmelt tests bench
	$(BIN)/ruff format --check snowmelt tests bench
	$(BIN)/mypy snowmelt
	sh scripts/install-browser.sh
	$(BIN)/python -m pytest -q

bench: $(STAMP)  ## refresh benchmarks (incremental vs full), printed side by side
	$(BIN)/python -m bench.refresh

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
