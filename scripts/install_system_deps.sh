#!/usr/bin/env bash
# System packages the tests need: Debian's Chromium for the admin console's browser test, and openssl
# for the certificate of the console served over HTTPS to it (tests/admin/test_cross_site_browser.py).
# Playwright drives this Chromium; it never downloads a browser of its own.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "install Debian's chromium package (apt-get install chromium) to run the browser tests" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium openssl >/dev/null
