# Two entry points for a new user: `make demo` and `make test`. Each builds the virtual
# environment (and installs system packages when run as root) on first use.
# `make test` is the fast tier (no synthesis, a few minutes); `make test-all` runs every
# test (tests/conftest.py lists what only `make test-all` runs).
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-all setup clean bench

$(VENV)/.installed: pyproject.toml scripts/setup.sh
	bash scripts/setup.sh

setup: $(VENV)/.installed

# The main job on the default preset: a quick look, then the quick report in ./report/.
demo: $(VENV)/.installed
	$(VENV)/bin/lnsmadam demo
	$(VENV)/bin/lnsmadam report --quick --out report

# The fast tier: every test not marked slow (tests/conftest.py marks the slow ones).
test: $(VENV)/.installed
	$(PY) -m pytest -q -n 2 --dist loadfile -m "not slow"

# Everything, synthesis and place and route included (what CI runs).
test-all: $(VENV)/.installed
	$(PY) -m pytest -q -n 2 --dist loadfile

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_update.py

# The caches live in the user cache directory (~/.cache/lnsmadam, or $LNSMADAM_CACHE; see
# rtl/cache.py), not in the checkout: this removes only what the checkout holds.
clean:
	rm -rf $(VENV) build *.egg-info
