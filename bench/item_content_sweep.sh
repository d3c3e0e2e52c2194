#!/usr/bin/env bash
# Privacy/utility of ID items against text items on a large catalogue: one
# `fedrec sweep` per item representation (model.item_repr = id | text) over
# the same epsilons, rounds, cohort and seed, on 100,000 synthetic users x
# 100,000 items whose features carry each item's cluster; then one plot of
# both curves (scripts/plot_sweep.py DIR_ID DIR_TEXT).
#   bench/item_content_sweep.sh [RUNS_DIR]     (default runs/item-content-sweep)
# Variables: FEDREC_SYNTH_USERS (100000), FEDREC_SYNTH_ITEMS (100000),
#   FEDREC_ROUNDS (300), FEDREC_Q (0.01: ~1000 clients per round),
#   FEDREC_EPSILONS (1,2,4,8,inf), FEDREC_REPRS ("id text"),
#   FEDREC_BIN (a fedrec binary to use as it is; default: build first).
# Resumable: a rerun skips finished points and resumes a killed one.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh
fedrec=$(fedrec_binary)
runs=${1:-runs/item-content-sweep}
users=${FEDREC_SYNTH_USERS:-100000}
items=${FEDREC_SYNTH_ITEMS:-100000}
rounds=${FEDREC_ROUNDS:-300}
q=${FEDREC_Q:-0.01}
epsilons=${FEDREC_EPSILONS:-1,2,4,8,inf}
reprs=${FEDREC_REPRS:-id text}
mkdir -p "$runs"
data="$runs/synth-${users}x${items}.txt"
features="$runs/synth-${users}x${items}-features.npy"
synth_content "$fedrec" "$users" "$items" "$data" "$features"

dirs=()
for repr in $reprs; do
  dir="$runs/$repr-r$rounds-q$q"
  dirs+=("$dir")
  echo "sweep: item_repr $repr -> $dir" >&2
  "$fedrec" --log-level warn sweep --config examples/synth100k-sasrec.toml \
    --set "data.path=$data" --set "data.item_features=$features" \
    --set "model.item_repr=$repr" --set "federation.rounds=$rounds" \
    --set "federation.sampling_rate=$q" --set eval.every=50 --set checkpoint.every=50 \
    --epsilons "$epsilons" --out "$dir" > /dev/null
done

python3 - "${dirs[@]}" <<'PY'
import csv, sys
print("| item_repr | target epsilon | spent | sigma | rounds | test HR@10 | test NDCG@10 | full HR@10 | full NDCG@10 | wall s |")
print("|---|---|---|---|---|---|---|---|---|---|")
for d in sys.argv[1:]:
    repr_ = d.rstrip("/").split("/")[-1].split("-r")[0]
    for r in csv.DictReader(open(f"{d}/sweep.csv")):
        print(f"| {repr_} | {r['epsilon']} | {float(r['epsilon_spent']):.3f} | {float(r['sigma']):.3f} | {r['rounds']} "
              f"| {float(r['HR@10']):.4f} | {float(r['NDCG@10']):.4f} | {float(r['full_HR@10']):.4f} "
              f"| {float(r['full_NDCG@10']):.4f} | {float(r['wall_seconds']):.0f} |")
PY
if /usr/bin/python3 -c 'import matplotlib' 2> /dev/null; then  # plot_sweep.py's interpreter
  scripts/plot_sweep.py --out "$runs/sweep.png" "${dirs[@]}"
else
  echo "no python3-matplotlib: $runs/sweep.png not drawn" >&2
fi
