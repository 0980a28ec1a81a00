# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The tests also cover the optional extras (local models, Ray). torch is pinned to the release whose CPU
# build CI machines keep on disk; on your own machine set TORCH= to keep the torch you have.
TORCH ?= torch==2.13.0
TEST_EXTRAS := dev,local,ray,ocr

.PHONY: demo test lint bench clean

$(BIN)/editforge: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

demo: $(BIN)/editforge
	$(BIN)/editforge demo --out demo-out

$(VENV)/.test-extras: $(BIN)/editforge pyproject.toml
	$(if $(TORCH),$(BIN)/pip install -q '$(TORCH)')
	$(BIN)/pip install -q -e '.[$(TEST_EXTRAS)]'
	@touch $@

test: $(VENV)/.test-extras
	@# The OCR extra must leave the pinned headless OpenCV 4.x (and its Haar cascades) in place.
	$(BIN)/python -c "import cv2, os; assert cv2.__version__.startswith('4.'), cv2.__version__; assert os.path.exists(cv2.data.haarcascades + 'haarcascade_frontalface_default.xml')"
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -q -m 'not gpu'

bench: $(BIN)/editforge
	$(BIN)/python bench/offline_pipeline.py

clean:
	rm -rf $(VENV) demo-out
