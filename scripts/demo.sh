#!/usr/bin/env bash
# Set up .venv and run a real dsdt session in a throw-away project (kept if DEMO_DIR is set).
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
DEMO="${DEMO_DIR:-$(mktemp -d -t dsdt-demo.XXXXXX)}"
mkdir -p "$DEMO" && cd "$DEMO"
run() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

mkdir -p data/raw/2026-11 && for i in 1 2 3; do echo "day,clicks
2026-11-0$i,$((i * 17))" > "data/raw/2026-11/day$i.csv"; done
echo "model weights" > model.pkl

run dsdt init
run dsdt context features
run dsdt switch features
run dsdt add raw data/raw/
run dsdt add model model.pkl -t stage:dev -t "url:http://models.local/v1"
run python - <<'PY'
import pandas as pd
import dsdt.api as api
df = pd.DataFrame({"user": ["a", "b"], "score": [0.9, 0.2]}).set_index("user")
with api.Bundle("features", "scores") as b:
    b.add_data(df)
    b.add_tags({"model": "xgb"})
    b.add_dependencies(api.get("features", "raw"), ["raw"])
print("stored scores", b.uuid)
print(api.get("features", "scores").data)
print([x.name for x in api.search("features", search_name="sc*", search_tags={"model": "xgb"})])
PY
run dsdt ls -v
run dsdt ls -p -t stage:dev
run dsdt cat raw
run dsdt commit raw
run dsdt ls --committed
UUID=$(dsdt ls scores -u | tail -n 1 | awk '{print $NF}')
run dsdt lineage "$UUID"
run dsdt add model model.pkl
run dsdt rm model --old
run dsdt status
run dsdt fsck
printf '\nDemo project left in %s\n' "$DEMO"
