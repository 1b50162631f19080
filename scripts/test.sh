#!/usr/bin/env bash
# Set up .venv and run the whole test suite (lint included). Extra args go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"
ruff check dsdt tests benchmarks
source scripts/_docker.sh  # Docker for the container tests (started here when needed)
# Chromium for the dsdt ui browser tests (tests/browser.py): installed as root when missing;
# in CI (CI=true) those tests fail rather than skip without it.
if ! type -P chromium >/dev/null && [ "$(id -u)" = 0 ] && type -P apt-get >/dev/null; then
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
    || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }; } \
    >/dev/null 2>&1 </dev/null || echo "warning: apt-get install chromium failed" >&2
fi
# loadfile: a test module runs on one worker, so the container tests build their image once.
python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile "$@"
