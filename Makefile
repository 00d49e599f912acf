# Set-up, tests and demo are driven from here; everything lives in ./.venv.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup test test-fast lint demo bench clean

setup: $(STAMP)

$(STAMP): requirements.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

lint: setup
	$(VENV)/bin/ruff check .

# The whole suite: what CI runs (.ci/run sets CI=true, so a missing ../shared fails).
test: setup lint
	$(PY) -m pytest -q test

# The inner loop: no ROS node tests, no slow tests.
test-fast: setup
	$(PY) -m pytest -q -m "not ros and not slow" test

demo: setup
	$(VENV)/bin/s2r-depth demo --output out/demo

bench: setup
	$(PY) benchmarks/bench_model.py
	$(PY) benchmarks/bench_inference.py --parallel eager openvino
	$(PY) benchmarks/bench_node.py --model outdoor
	$(PY) benchmarks/bench_precision.py

clean:
	rm -rf build install log out .pytest_cache
