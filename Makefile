# The two commands of the README: `make run` starts the app, `make test` runs every test
# (`make test-fast`: all but the slow and browser tests, the developer's loop).
# Both create (once) and reuse the virtual environment .venv: `make run` installs what serving
# needs only (requirements.txt: no torch); `make test` adds training and the test tools.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVING := $(VENV)/.serving
INSTALLED := $(VENV)/.installed
PORT ?= 8501
BUILD_TOOLS := setuptools==84.2.1  # builds the editable install (--no-build-isolation: no download)

.PHONY: run test test-fast bench lint browser clean

$(SERVING): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip $(BUILD_TOOLS)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(SERVING)

$(INSTALLED): $(SERVING) requirements-train.txt requirements-dev.txt requirements-scale.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-scale.txt  # the scale extra: tests/test_ray.py
	touch $(INSTALLED)

run: $(SERVING)
	$(BIN)/streamlit run streamlit_app.py --server.port $(PORT)

# The browser test drives Debian's Chromium; install it when missing (needs root, as on CI).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

test: $(INSTALLED) browser
	$(BIN)/python -m pytest

# The slow tests are listed in tests/conftest.py (SLOW_TESTS).
test-fast: $(INSTALLED)
	$(BIN)/python -m pytest -m "not slow and not browser"

bench: $(INSTALLED)
	$(BIN)/python -m bench.latency
	$(BIN)/python -m bench.load

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy mood webapp streamlit_app.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
