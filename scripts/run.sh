#!/usr/bin/env bash
# The README's first command: set up, index the sample handbook, answer questions from it, then serve the
# admin console (and the Slack bot, when Slack tokens are configured) on the embedded default: no server
# to install, no token, no internet at run time. Arguments are questions to ask instead of the demo ones.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
.venv/bin/needle demo "$@"

# The console always gets a login: make one on the first run, kept in .env (which git ignores).
if [ -z "${NEEDLE_ADMIN_PASSWORD:-}" ] && ! grep -qs '^NEEDLE_ADMIN_PASSWORD=' .env; then
  password="$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(12))')"
  printf 'NEEDLE_ADMIN_PASSWORD=%s\n' "$password" >> .env
  echo "Created an admin login in .env: user 'admin', password '$password'"
fi
if [ "${NEEDLE_NO_SERVE:-}" = "1" ]; then
  exit 0
fi
port="${NEEDLE_PORT:-8080}"
echo "Admin console: http://127.0.0.1:${port}/admin/  (Ctrl-C to stop; NEEDLE_NO_SERVE=1 skips this step)"
exec .venv/bin/needle serve
