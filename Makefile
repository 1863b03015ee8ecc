# Every target bootstraps .venv when it is missing: a fresh machine needs only Python 3.11.
PYTHON ?= python3
TORCH_VERSION ?= 2.13.0
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sisr-installed
PYTEST_ARGS ?=

.PHONY: setup demo serve test test-slow lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install --quiet -e ".[dev,onnx]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/sisr upscale assets/chelsea_crop.png -o demo/chelsea_crop_x4.png --overwrite

serve: $(STAMP)
	$(BIN)/sisr serve

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools

bench: $(STAMP)
	$(BIN)/sisr bench --models bicubic --data Set5,Set14,BSD100 --scale 2,3,4 --json benchmarks/results/bicubic.json --markdown benchmarks/results/bicubic.md

clean:
	rm -rf $(VENV) demo .pytest_cache
