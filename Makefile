# Two entry points: `make run` (full workflow on simulated demo data) and `make test`.
# Both create .venv when it is missing and install the pinned environment into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: run test install bench clean

$(BIN)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	# spkit ships a real 16 s Emotiv recording used as a test fixture; its heavy extras are not needed.
	$(BIN)/python -m pip install -q --no-deps -c constraints.txt spkit
	touch $@

install: $(BIN)/.installed

run: $(BIN)/.installed
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores $(CORES)

test: $(BIN)/.installed
	$(BIN)/python -m pytest

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_features.py
	$(BIN)/python benchmarks/bench_training.py

clean:
	rm -rf results logs .snakemake
