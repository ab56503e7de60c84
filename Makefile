# Induction Heads, reproduced: the two commands are `make book` and `make test` (see README.md).
# Nothing here trains a model except `make zoo`: the run store in data/ is committed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# nbval compares every text output of the stored chapters, after this file's substitutions.
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with chapters/nbval_sanitize.cfg
SIZE ?= small

.PHONY: book test unit unit-fast nbval chapters readings sync check-site check-colab zoo venv clean

# The pinned environment. torch comes first, from its CPU wheel: an unpinned torch (pulled in by
# transformer-lens) would download gigabytes of CUDA libraries.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "$$(grep -E '^torch==' requirements.txt)"
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

venv: $(STAMP)

## make book: execute every chapter for every size whose run store exists, build _build/html
book: $(STAMP)
	$(BIN)/python -m induction_heads.publish.build book

## make test: unit tests, nbval on the stored chapters (default size), then the book build
test: unit nbval book

## make unit: every unit test (tests/), those marked slow included (they train tiny models or
## execute a chapter with papermill); make unit-fast: the same without the slow ones, while editing
unit: $(STAMP)
	$(BIN)/python -m pytest -q tests

unit-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" tests

nbval: $(STAMP)
	$(BIN)/python -m pytest -q $(NBVAL) chapters

## make chapters [ONLY="03 05"]: re-execute chapters/*.ipynb in place at the default size (reference
## outputs); ONLY: just the chapters whose file name starts with one of these
ONLY ?=
chapters: $(STAMP)
	$(BIN)/python -m induction_heads.publish.build chapters $(ONLY)

## make readings [SIZE=small] [JOBS=2]: compute and keep every finished run's summary row (readings.json)
## where it is missing or stale, JOBS runs at once; the chapters read these. Run it after changing lib/ or
## data/, before `make chapters`
readings: $(STAMP)
	$(BIN)/python -m induction_heads readings --size $(SIZE) --jobs $(JOBS)

## make sync: rewrite each chapter's Colab cell and default size from _config.yml / book.py
sync: $(STAMP)
	$(BIN)/python -m induction_heads.publish.build sync

## make check-site: open every page of _build/html in headless Chromium, offline
check-site: $(STAMP)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }
	$(BIN)/python -m induction_heads.publish.check_site _build/html --screenshots _build/screenshots --limit-pass-lines --require-captions

## make check-colab: the "Open in Colab" path end to end without Colab (induction_heads.publish.check_colab): the
## built site's Colab links, then a fresh Colab-like venv and kernel running every chapter's set-up
## cells at tiny and one whole chapter at small from a file:// clone of this checkout (needs `make book`)
check-colab: $(STAMP)
	$(BIN)/python -m induction_heads.publish.check_colab --site _build/html

## make zoo SIZE=small [JOBS=2] [DEVICE=cuda] [RUNS=zoo]: train (or resume) every model of a size
## into data/<size>/zoo (or data/<size>/$(RUNS): a retrain beside the runs the book reads),
## JOBS models at a time (one process and one thread each), on DEVICE
JOBS ?= 1
DEVICE ?= cpu
RUNS ?=
zoo: $(STAMP)
	INDUCTION_HEADS_RUNS=$(RUNS) $(BIN)/python -m induction_heads zoo --size $(SIZE) --jobs $(JOBS) --device $(DEVICE)

clean:
	rm -rf _build
