# KI-Assistenz: one Makefile of verbs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
APPLIANCE := $(VENV)/bin/appliance
INSTALLED := $(VENV)/.installed
# llama.cpp is compiled with CUDA when an NVIDIA GPU and the CUDA toolkit are present
CUDA := $(shell command -v nvidia-smi >/dev/null 2>&1 && command -v nvcc >/dev/null 2>&1 && echo yes)
CMAKE_ARGS_AUTO := $(if $(CUDA),-DGGML_CUDA=on,)
CHROMIUM := /usr/bin/chromium

.DEFAULT_GOAL := help
.PHONY: help setup run test lint bench browser speech-tools clean

help: ## show this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "llama.cpp: $(if $(CUDA),CUDA build (GPU found),CPU build (no NVIDIA GPU/toolkit found))"
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: pip then takes the CPU build from this machine's disk
	$(PY) -m pip install --quiet "torch==2.13.0"
	CMAKE_ARGS="$(CMAKE_ARGS_AUTO) $(CMAKE_ARGS)" $(PY) -m pip install --quiet -e ".[dev]"
	@$(PY) -c "import llama_cpp as L; print('llama.cpp built:', 'with GPU offload (CUDA)' \
		if L.llama_supports_gpu_offload() else 'for the CPU only')"
	@touch $@

setup: $(INSTALLED) ## create .venv, install, fetch and verify the default models (and the tests' Piper voice and tiny.en)
	$(APPLIANCE) models fetch
	$(APPLIANCE) models fetch piper-en-us-joe-medium
	$(APPLIANCE) models fetch whisper-tiny.en

run: setup speech-tools ## set up if needed, then serve at http://127.0.0.1:8080
	$(APPLIANCE) serve

browser: ## Debian's Chromium for the browser tests (installed when missing)
	@test -x $(CHROMIUM) || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; }

speech-tools: ## espeak-ng (reading aloud, test speech), sox and openssl (test certificates) from Debian
	@command -v espeak-ng >/dev/null && command -v sox >/dev/null && command -v openssl >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		espeak-ng sox openssl; }

test: setup browser speech-tools ## set up if needed, then ruff and every test (without network where possible)
	$(VENV)/bin/ruff check .
	@if unshare -n true 2>/dev/null; then \
		echo "tests run in a network namespace without network (unshare -n)"; \
		unshare -n bash -c 'ip link set lo up && $(PY) -m pytest $(PYTEST_ARGS)'; \
	else \
		echo "unshare -n not permitted here: tests run with the normal network"; \
		$(PY) -m pytest $(PYTEST_ARGS); \
	fi

bench: setup speech-tools ## measure the API against the raw libraries (results in docs/benchmarks*.md)
	$(PY) -m benchmarks.run
	$(PY) -m benchmarks.handbooks
	$(PY) -m benchmarks.speech
	$(PY) -m benchmarks.apps_quality

lint: setup ## ruff
	$(VENV)/bin/ruff check .

clean: ## remove the virtualenv (the data directory var/ stays)
	rm -rf $(VENV)
