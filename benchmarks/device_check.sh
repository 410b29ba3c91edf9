#!/usr/bin/env bash
# One prepared device check: GPU tests, training throughput and the full DEAP sweep, in < 8 minutes.
#
# Usage (from anywhere; it works in the repository root):
#
#   bash benchmarks/device_check.sh                    # a CUDA machine: the full check
#   bash benchmarks/device_check.sh --device cpu --tiny   # CPU fallback at small sizes (< 1 min)
#
# Results: device_check.json, device_check.md and device_check.log under $OUT, or under
# benchmarks/out/ when OUT is unset; the Markdown report is printed last.
#
# What it does (benchmarks/device_check.py holds the steps; each runs under one overall time
# budget, 450 s by default, --budget-s to change it):
#   1. installs what is missing: every wheel in .whl/ whose distribution the interpreter lacks
#      goes into a private folder on PYTHONPATH (pip --no-index --no-deps --target), and the
#      package itself with `pip install --no-deps --no-build-isolation -e .` when it is not
#      installed; this checkout is first on PYTHONPATH either way;
#   2. prints the GPU's name, driver, torch and CUDA versions, the card's bf16 dense peak (a
#      vendor datasheet figure, or "unknown card") and a measured bf16 matrix-product rate;
#   3. runs the tests marked gpu (pytest -m gpu): AMP forward/backward of every registered model,
#      batched sweep = loop on CUDA, checkpoint resume on CUDA, load_model onto CUDA;
#   4. benchmarks/bench_training.py --device cuda: samples/s, TFLOP/s and peak memory of single
#      models, and the batched sweep against a plain loop at M = 10, 80 and 320 models (bf16);
#   5. benchmarks/bench_full_sweep.py --device cuda: the full DEAP trial-holdout sweep (32 subjects
#      x 10 folds, 100 epochs, RBTransformer, 512/117 windows) on simulated full-size tokens, timed
#      end to end; its per-epoch progress is kept if the budget runs out first.
#
# What the machine needs: python3 with torch (CUDA), torch-geometric, torchvision, numpy, scipy,
# scikit-learn, pandas, xarray, h5py, pytest. Not needed there: mne, snakemake (neuroaffect.models
# and neuroaffect.training import without them). The braindecode models (eegnet, shallowfbcspnet)
# are registered only when braindecode imports, which needs mne and more: bring them as wheels.
#
# Wheels for a machine without registry access (this project's GPU machine: CPython 3.12,
# x86-64), downloaded on a machine that has one, into .whl/ (git-ignored; about 12 MB):
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl mne==1.13.2 pooch==1.9.0 decorator==5.3.1 platformdirs==4.14.7 braindecode==1.8.1 \
#     skorch==1.4.0 torchinfo==1.8.0 mne-bids==0.20.0 wfdb==4.3.1 linear-attention-transformer==0.19.1 \
#     linformer==0.2.3 docstring-inheritance==3.0.0 pydantic==2.14.3 pydantic-core==2.50.4 \
#     annotated-types==0.8.0 typing-inspection==0.4.5 axial-positional-embedding==0.3.12 \
#     local-attention==1.11.2 product-key-memory==0.3.0 colt5-attention==0.11.2 hyper-connections==0.4.11
#
# (versions: constraints.txt and the pinned environment; for another Python change --python-version,
# and pydantic-core, the one compiled wheel, follows it). .whl/ is git-ignored: send it along with
# the tree explicitly (e.g. as a carried path) when the tree is copied to the GPU machine.
#
# Environment: PYTHON (default python3) runs everything; OUT sets the result folder.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
PYTHON="${PYTHON:-python3}"
OUT="${OUT:-benchmarks/out}"
mkdir -p "$OUT"
export OUT
"$PYTHON" benchmarks/device_check.py --out "$OUT" "$@" 2>&1 | tee "$OUT/device_check.log"
exit "${PIPESTATUS[0]}"
