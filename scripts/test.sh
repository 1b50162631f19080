#!/usr/bin/env bash
# Set up .venv and run the whole test suite (lint included). Extra args go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"
ruff check dsdt tests benchmarks
source scripts/_docker.sh  # Docker for the container tests (started here when needed)
# loadgroup: the container tests (xdist_group "docker") share one worker and its image.
python -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup "$@"
