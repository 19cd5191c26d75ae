# Two entry points that work on a fresh machine: `make demo` and `make test`.
# Both create .venv and install what they need (idempotent: reinstall only when pyproject changes):
# the demo needs the core package only (installed as a user would); the tests need every extra
# (and CPU PyTorch), installed editable.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORE := $(VENV)/.installed-core
FULL := $(VENV)/.installed

.PHONY: demo test lint bench docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(CORE): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet .
	touch $(CORE)

$(FULL): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[all,dev,docs]"
	touch $(FULL) $(CORE)

demo: $(CORE)
	$(BIN)/headroom demo

test: $(FULL)
	$(BIN)/python -m pytest -q

lint: $(FULL)
	$(BIN)/ruff check headroom_core headroom_integrations tests benchmarks
	$(BIN)/mypy headroom_core headroom_integrations

bench: $(FULL)
	$(BIN)/python -m benchmarks

docs: $(FULL)
	$(BIN)/mkdocs serve

clean:
	rm -rf $(VENV) site headroom.db headroom-report.html
