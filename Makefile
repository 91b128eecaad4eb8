# The two commands a newcomer needs: `make demo` and `make test`.
# Both create .venv with python3 and install the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint types unit bench clean pure docs fuzz

# The gateway's data path, compiled with mypyc (as mypy and black ship themselves): the same
# typed sources, run as C — about twice the throughput. The list of modules is
# [tool.meshkit.mypyc] in pyproject.toml, which wheels (hatch_build.py) and the tests read too.
# Rebuilt whenever one of them changes; without a C compiler it falls back to pure Python and
# says so. MESHKIT_COMPILE=1 requires the compiled build (CI sets it), =0 skips it.
HOT_PATH := $(addprefix src/,$(shell $(PYTHON) -c 'import tomllib; \
	print(*tomllib.load(open("pyproject.toml", "rb"))["tool"]["meshkit"]["mypyc"]["modules"])'))
export MESHKIT_COMPILE ?= $(if $(filter true,$(CI)),1,auto)
COMPILED := $(VENV)/.compiled

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# The editable install never compiles (the next step does, in place): skip the build
	@# hook's requirements.
	MESHKIT_COMPILE=0 $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(COMPILED): $(STAMP) $(HOT_PATH) hatch_build.py
	$(BIN)/python hatch_build.py $(VENV)
	@touch $(COMPILED)

pure:
	find src -name '*.so' -delete
	rm -rf src/build $(VENV)/mypyc-build $(COMPILED)

demo: $(STAMP) $(COMPILED)
	$(BIN)/meshkit demo

test: lint types unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench hatch_build.py
	$(BIN)/ruff format --check src tests bench hatch_build.py

types: $(STAMP)
	$(BIN)/mypy src hatch_build.py

unit: $(STAMP) $(COMPILED)
	$(BIN)/pytest -q -p no:cacheprovider

# The configuration reference, generated from the models and examples/ (a test checks it).
docs: $(STAMP)
	$(BIN)/python -m meshkit.gateway.config_docs examples > docs/configuration.md

bench: $(STAMP) $(COMPILED)
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/ratelimit.py
	$(BIN)/python bench/balancing.py
	$(BIN)/python bench/slow_endpoint.py
	$(BIN)/python bench/gateway.py
	$(BIN)/python bench/hardening.py

# Coverage-guided fuzzing of the gateway's request and response paths (atheris) on the
# Python sources; `make test` runs each for a few seconds. A crash leaves crash-* here: add
# it to tests/fuzz/corpus/<target>/, where the suite replays it.
FUZZ_SECONDS ?= 300
fuzz: $(STAMP)
	@mkdir -p .fuzz/request .fuzz/response
	for target in request response; do \
	  MESHKIT_FUZZ_PURE=1 $(BIN)/python tests/fuzz/fuzz_gateway.py $$target \
	    -max_total_time=$(FUZZ_SECONDS) -dict=tests/fuzz/http.dict \
	    .fuzz/$$target tests/fuzz/corpus/$$target || exit 1; \
	done

clean: pure
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .fuzz
