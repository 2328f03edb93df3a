# The README's two commands: `make serve` and `make test`. Both install what they need into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test lint fuzz bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# Demo data first (idempotent: a rerun reuses the demo clinic and its admin key), then serve.
serve: $(BIN)/.installed
	$(BIN)/blocktrack demo --base-url http://$(HOST):$(PORT)
	$(BIN)/blocktrack serve --host $(HOST) --port $(PORT)

# SQLite by default; BLOCKTRACK_TEST_DATABASE_URL=postgresql://... runs the same suite on PostgreSQL.
# The browser tests (marker `browser`) drive Debian's chromium; without it they are left out, said loudly.
CHROMIUM ?= /usr/bin/chromium
test: $(BIN)/.installed
	$(BIN)/ruff check api models migrations tests bench
	@if [ -x "$(CHROMIUM)" ]; then \
		$(BIN)/python -m pytest -q -p no:cacheprovider; \
	else \
		echo "!! $(CHROMIUM) not found: the browser tests are NOT run (apt-get install chromium poppler-utils)"; \
		$(BIN)/python -m pytest -q -p no:cacheprovider -m "not browser"; \
		echo "!! browser tests were NOT run: $(CHROMIUM) not found"; \
	fi

lint: $(BIN)/.installed
	$(BIN)/ruff check api models migrations tests bench
	$(BIN)/ruff format --check api models migrations tests bench

# Schemathesis against a real server process for about two minutes.
fuzz: $(BIN)/.installed
	$(BIN)/python -m tests.fuzz

# The diary write benchmark against a server it starts over BLOCKTRACK_DATABASE_URL (default ./bench.db).
bench: $(BIN)/.installed
	BLOCKTRACK_DATABASE_URL=$${BLOCKTRACK_DATABASE_URL:-sqlite:///./bench.db} $(BIN)/python bench/diary_write.py --spawn
	BLOCKTRACK_DATABASE_URL=$${BLOCKTRACK_DATABASE_URL:-sqlite:///./bench.db} $(BIN)/python bench/diary_write.py --spawn --idempotency
	$(BIN)/python bench/ui_pages.py
	$(BIN)/python bench/ui_pages.py --think 0
