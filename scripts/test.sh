#!/usr/bin/env bash
# Set up .venv and run the whole test suite (lint included). Extra args go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"
ruff check dsdt tests benchmarks
python -m pytest -q -p no:cacheprovider -n 2 "$@"
