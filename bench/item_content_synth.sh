#!/usr/bin/env bash
# Federated SASRec on a large synthetic catalogue with item content, ID items
# against text items (model.item_repr = id | text) at the same rounds, with
# secure aggregation at client scope: test HR@10/NDCG@10 (sampled), what one
# client uploads per round (words and bytes), the median round time and the
# secure-aggregation seconds per round. In text mode the update is the
# adapter and the dense weights only, so it does not grow with the catalogue.
#   bench/item_content_synth.sh [RUNS_DIR]          (default runs/item-content-synth)
# Variables: FEDREC_SYNTH_USERS (100000), FEDREC_SYNTH_ITEMS (100000),
#   FEDREC_ROUNDS (20), FEDREC_Q (0.001: ~100 clients per round),
#   FEDREC_REPRS ("id text").
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh
fedrec=$(fedrec_binary)
runs=${1:-runs/item-content-synth}
users=${FEDREC_SYNTH_USERS:-100000}
items=${FEDREC_SYNTH_ITEMS:-100000}
rounds=${FEDREC_ROUNDS:-20}
q=${FEDREC_Q:-0.001}
reprs=${FEDREC_REPRS:-id text}
mkdir -p "$runs"
data="$runs/synth-${users}x${items}.txt"
features="$runs/synth-${users}x${items}-features.npy"
synth_content "$fedrec" "$users" "$items" "$data" "$features"

for repr in $reprs; do
  name="$repr-r$rounds-q$q"
  if [[ ! -f "$runs/$name/summary.json" ]]; then
    rm -rf "${runs:?}/$name"
    "$fedrec" --log-level warn train --config examples/synth100k-sasrec.toml \
      --set "data.path=$data" --set "data.item_features=$features" \
      --set "model.item_repr=$repr" --set "federation.rounds=$rounds" \
      --set "federation.sampling_rate=$q" --set secagg.enabled=true --set secagg.scope=client \
      --set secagg.graph=harary --set eval.every=0 --set checkpoint.every=0 \
      --set eval.final_protocols=sampled --out "$runs/$name" > /dev/null
  fi
done

python3 - "$runs" "$rounds" "$q" "$users" "$items" $reprs <<'PY'
import json, statistics, sys
runs, rounds, q, users, items, reprs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
print(f"Federated SASRec, synthetic {users} users x {items} items, {rounds} rounds, q = {q}, "
      "secure aggregation at client scope (Harary graph)")
print("| item_repr | test HR@10 | test NDCG@10 | upload words / client | upload MiB / client | round s (median) | secagg s / round |")
print("|---|---|---|---|---|---|---|")
for r in reprs:
    d = f"{runs}/{r}-r{rounds}-q{q}"
    s = json.load(open(f"{d}/summary.json"))
    t = s["test_at_best"]["sampled"] if "sampled" in s["test_at_best"] else s["test_at_best"]
    lines = [json.loads(l) for l in open(f"{d}/metrics.jsonl") if '"round_seconds"' in l]
    med = statistics.median(l["round_seconds"] for l in lines) if lines else float("nan")
    n = max(1, s["rounds_this_session"])
    print(f"| {r} | {t['HR@10']:.4f} | {t['NDCG@10']:.4f} | {s['upload_words_per_client']:,} "
          f"| {s['upload_bytes_per_client'] / 2**20:.2f} | {med:.2f} | {s['seconds_this_session']['secagg'] / n:.2f} |")
PY
