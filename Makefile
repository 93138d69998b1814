# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint install clean sandbox browser

# The project installs with uv (from PyPI, into the venv): a fresh install takes ~40 s where pip
# took ~2 min 40 s. Bytecode is compiled at install, as pip does: a machine that sets
# PYTHONDONTWRITEBYTECODE would otherwise compile Dagster's modules in every process.
# The project's own packages are compiled too (an editable install is not): an edited module's
# stale bytecode is ignored by Python, never used.
# --native-tls: the system's CA store, as pip uses, so a proxy's CA installed there is trusted.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet 'uv>=0.5'

$(STAMP): pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --python $(BIN)/python --native-tls --compile-bytecode --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q pipelines assets sandbox
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium + chromedriver for the HTML report's browser test (tests/test_report_html.py):
# installed when missing and running as root, else a clear error (the test fails too, never skips).
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver; \
	else echo "error: the HTML report test needs chromium and chromedriver: run 'sudo apt-get install chromium chromium-driver' (Debian)" >&2; exit 1; fi

# Two workers (pytest-xdist): most of the suite waits on real servers, processes and intervals, so
# two at a time halve the wall time on 2 cores. TEST_WORKERS=0 runs it in one process.
# The 20 slowest tests are listed at the end, so a slow CI run shows where its time went.
TEST_WORKERS ?= 2
test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --durations=20 $(PYTEST_ARGS)

# Unit tests only (no integration, reliability or slow tests), two workers: the quick loop.
FAST_MARKERS := not integration and not reliability and not slow
test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: $(STAMP)
	$(BIN)/soracom-lake demo $(DEMO_ARGS)

sandbox: $(STAMP)
	$(BIN)/soracom-lake sandbox $(SANDBOX_ARGS)

clean:
	rm -rf data .pytest_cache
