# Two commands a new user needs (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test test-fast bench peers clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamp files: reinstall only when the project metadata changes.
$(VENV)/.core-installed: pyproject.toml | $(PY)
	$(PIP) install -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(PY)
	$(PIP) install -e ".[all,test]"
	touch $@ $(VENV)/.core-installed

demo: $(VENV)/.core-installed
	$(VENV)/bin/normgraph demo

# The suite runs on TEST_WORKERS processes (pytest-xdist); each test module stays on one process
# so its module fixtures (a Dask LocalCluster, fitted models) are built once. TEST_WORKERS=0
# runs everything in this process.
TEST_WORKERS ?= 2
XDIST = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadscope)

test: $(VENV)/.test-installed
	$(PY) -m pytest $(XDIST)

# Everything but the slow real-data reproductions.
test-fast: $(VENV)/.test-installed
	$(PY) -m pytest $(XDIST) -m "not slow"

# Benchmark peer that cannot be a declared dependency (it pins an unbuildable matplotlib).
peers: $(VENV)/.test-installed
	$(PIP) install seaborn
	$(PIP) install --no-deps "mvlearn==0.5.0"

bench: $(VENV)/.test-installed
	$(VENV)/bin/asv machine --yes >/dev/null
	$(VENV)/bin/asv run --quick --python=same --show-stderr

clean:
	rm -rf $(VENV) .asv build *.egg-info src/*.egg-info
