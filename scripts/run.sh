#!/usr/bin/env bash
# The README's first command: set up, index the sample handbook and answer questions from it (embedded
# default: no server, no token). Extra arguments are questions to ask instead of the demo ones.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
exec .venv/bin/needle demo "$@"
