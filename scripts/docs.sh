#!/usr/bin/env bash
# Set up .venv and build the API reference (HTML, from the docstrings) with pdoc.
# Extra args go to pdoc (e.g. -o DIR, or -h for its options). tests/test_api_docs.py
# builds the same modules and checks that every public name of dsdt.api has a docstring.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"
MODULES=(dsdt.api dsdt.bundle.metadata dsdt.bundle.managed dsdt.bundle.remote dsdt.pipe dsdt.errors)
OUT="build/api-docs"
python -m pdoc --docformat google --footer-text "dsdt $(python -c 'import dsdt; print(dsdt.__version__)')" \
  -o "$OUT" "${MODULES[@]}" "$@"
echo "API docs: $ROOT/$OUT/index.html"
