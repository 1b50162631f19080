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

# Share through a remote: a plain directory here (an s3://bucket/prefix works the same).
mkdir -p "$DEMO/remote"
run dsdt remote shared "$DEMO/remote"
run dsdt push raw
run dsdt commit scores
run dsdt push                     # every committed bundle not yet on the remote
run dsdt push raw -d              # drop the local copy of raw's data: it is safe on the remote
run dsdt status
run dsdt fsck --remote

# A collaborator's clone: metadata first, data on demand, verified by sha256.
mkdir -p "$DEMO/clone" && cd "$DEMO/clone"
run dsdt init
run dsdt remote shared "$DEMO/remote"
run dsdt pull
run dsdt cat scores               # a DataFrame loads transparently from the remote
run dsdt cat raw                  # files show where they are on the remote...
run dsdt pull raw -l              # ...until localized
run dsdt cat raw
run dsdt fsck
printf '\nDemo projects left in %s (clone in %s/clone)\n' "$DEMO" "$DEMO"
