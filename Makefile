# The two commands a newcomer needs: `make demo` and `make test`.
# Both create .venv with python3 and install the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint types unit bench clean pure docs fuzz

# The gateway's data path, compiled with mypyc (as mypy and black ship themselves): the same
# typed sources, run as C — about twice the throughput. Rebuilt whenever one of them changes;
# without a C compiler it falls back to pure Python and says so (CI requires the build).
HOT_PATH := $(addprefix src/meshkit/, \
	gateway/listener.py gateway/server.py gateway/exchange.py gateway/exchange_relay.py \
	gateway/exchange_tunnel.py gateway/exchange_local.py gateway/outgoing.py gateway/upstream.py \
	gateway/http1.py gateway/response_head.py gateway/identity.py gateway/router.py \
	gateway/proxy.py mesh.py client/route.py balancing/balancer.py balancing/least_request.py \
	balancing/endpoint.py balancing/algorithm.py resilience/breaker.py \
	resilience/_breaker_window.py resilience/retry_budget.py health/outlier/detector.py \
	ratelimit/limiter.py ratelimit/keyed.py ratelimit/_bucket_core.py observability/stats.py)
COMPILED := $(VENV)/.compiled

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(COMPILED): $(STAMP) $(HOT_PATH) Makefile
	@echo "compiling the data path with mypyc (log: $(VENV)/mypyc.log)"
	@rm -rf src/build; if [ -d $(VENV)/mypyc-build ]; then mv $(VENV)/mypyc-build src/build; fi
	@if (cd src && ../$(BIN)/mypyc --cache-dir ../$(VENV)/mypyc-cache $(HOT_PATH:src/%=%)) > $(VENV)/mypyc.log 2>&1; then \
	  mv src/build $(VENV)/mypyc-build; find src -name '*.so' -exec touch {} +; \
	elif [ "$$CI" = "true" ]; then tail -20 $(VENV)/mypyc.log; exit 1; \
	else echo "mypyc build failed (see $(VENV)/mypyc.log): running pure Python"; \
	  rm -rf src/build; find src -name '*.so' -delete; fi
	@touch $(COMPILED)

pure:
	find src -name '*.so' -delete
	rm -rf src/build $(VENV)/mypyc-build $(COMPILED)

demo: $(STAMP) $(COMPILED)
	$(BIN)/meshkit demo

test: lint types unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types: $(STAMP)
	$(BIN)/mypy src

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
