# `make run` and `make test` each create .venv (if missing) and install the package into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ltp-brainpy run default --out results/default

test: $(STAMP)
	$(BIN)/python -m pytest

# Speed benchmarks (minutes; results in benchmarks/results/).
bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/stdp_sweep.py
	$(BIN)/python benchmarks/canonical.py

# The documentation site (docs/_build/html/index.html); warnings are errors. The tutorials run in
# their quick mode and are cached (docs/_build/.jupyter_cache): only changed ones run again.
docs: $(STAMP)
	$(BIN)/python -c 'import sphinx, myst_nb, sphinx_book_theme' 2>/dev/null || \
		$(BIN)/python -m pip install --quiet -e '.[docs]'
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) results docs/_build docs/api docs/tutorials
