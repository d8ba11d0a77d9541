#!/usr/bin/env bash
# The README's second command: install what the tests need and run the default suite.
# Extra arguments go to pytest (for example: bash scripts/test.sh -m slow).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
bash scripts/install_system_deps.sh
.venv/bin/ruff check .
.venv/bin/lint-imports
# The documentation site, built strictly and offline: a broken link or anchor, or a page missing from the
# nav, fails here. The output goes to a temporary directory (site/ is never committed).
site_dir="$(mktemp -d)"
trap 'rm -rf "$site_dir"' EXIT
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --site-dir "$site_dir"
rm -rf "$site_dir"
exec .venv/bin/python -m pytest "$@"
