# The README's two commands: `make serve` and `make test`. Both install what they need into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: serve test lint fuzz bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

serve: $(BIN)/.installed
	$(BIN)/blocktrack demo
	$(BIN)/blocktrack serve

test: $(BIN)/.installed
	$(BIN)/ruff check api models migrations tests bench
	$(BIN)/python -m pytest -q -p no:cacheprovider

fuzz: $(BIN)/.installed
	$(BIN)/python -m tests.fuzz
