#!/usr/bin/env sh
# Debian's chromium for the report's browser test (tests/test_report_browser.py), when missing.
set -eu
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ]; then run=""; elif command -v sudo >/dev/null 2>&1; then run="sudo"; else
  echo "chromium is missing and this user cannot install it: apt-get install chromium" >&2
  exit 1
fi
$run apt-get update -qq
DEBIAN_FRONTEND=noninteractive $run apt-get install -y -qq --no-install-recommends chromium
