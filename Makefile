# `make run` and `make test` each create .venv (if missing) and install the package into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

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

clean:
	rm -rf $(VENV) results
