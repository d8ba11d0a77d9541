#!/usr/bin/env bash
# The README's second command: install what the tests need and run the default suite.
# Extra arguments go to pytest (for example: bash scripts/test.sh -m slow).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
bash scripts/install_system_deps.sh
.venv/bin/ruff check .
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
