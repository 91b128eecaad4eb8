# The two commands a newcomer needs: `make demo` and `make test`.
# Both create .venv with python3 and install the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint types unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/meshkit demo

test: lint types unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types: $(STAMP)
	$(BIN)/mypy src

unit: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/ratelimit.py
	$(BIN)/python bench/balancing.py
	$(BIN)/python bench/slow_endpoint.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
