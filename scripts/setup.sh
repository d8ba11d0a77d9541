#!/usr/bin/env bash
# Create .venv and install Needle with everything it needs. Safe to run again: it only installs what changed.
# Usage: bash scripts/setup.sh [EXTRAS]   (EXTRAS defaults to "dev"; e.g. "dev" installs the test tools)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
# torch first, pinned to the CPU build: letting a resolver pick it pulls several GB of CUDA wheels.
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[${extras}]"
