#!/usr/bin/env bash
# Installs everything into .venv. `./setup.sh --dev` adds the test tools and Chromium for the browser tests.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned: the CPU wheel. Anything that pulls an unpinned torch first drags in gigabytes of CUDA.
.venv/bin/python -m pip install -q "torch==2.13.0"
if [ "${1:-}" = "--dev" ]; then
  .venv/bin/python -m pip install -q -r requirements-dev.txt
  if [ ! -x /usr/bin/chromium ]; then
    # Playwright's own browser download cannot work offline; Debian's Chromium can.
    SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
    $SUDO apt-get update -q && $SUDO apt-get install -y -q chromium chromium-driver
  fi
else
  .venv/bin/python -m pip install -q -r requirements.txt
fi
