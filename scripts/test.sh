#!/usr/bin/env bash
# Set up .venv and run the whole test suite (lint included). Extra args go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"
ruff check dsdt tests benchmarks
source scripts/_docker.sh  # Docker for the container tests (started here when needed)
# loadfile: a test module runs on one worker, so the container tests build their image once.
python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile "$@"
