#!/usr/bin/env bash
# Federated SASRec on MovieLens-100K, the paper's loss (BCE) against the
# modern one (sampled softmax, 256 shared negatives), both at
# examples/ml100k-sasrec.toml's federation (FedAdam, two local epochs, clip
# 1.0) with a cohort of FEDREC_SAMPLING_RATE of the 943 clients per round:
# the rounds and wall time each takes to reach 90% of the central modern
# model's validation NDCG@10 (full ranking), and its best.
#   bench/federated_recipes_ml100k.sh [RUNS_DIR]
#   (default runs/federated-recipes-ml100k-rate<RATE>)
# Variables: FEDREC_ROUNDS (1500), FEDREC_SAMPLING_RATE (0.2, ~190 clients a
# round; the example's own 0.106 is ~100), FEDREC_BIN (a fedrec binary;
# default: build). The central reference is trained first (up to 200 epochs,
# early stopping, as bench/recipes_ml100k.sh). Needs ../shared/data/ml-100k.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f ../shared/data/ml-100k/u.data ]] || { echo "federated_recipes_ml100k: ../shared/data/ml-100k not found" >&2; exit 2; }
# shellcheck source=bench/common.sh
source bench/common.sh
fedrec=$(fedrec_binary)
rounds=${FEDREC_ROUNDS:-1500}
rate=${FEDREC_SAMPLING_RATE:-0.2}
runs=${1:-runs/federated-recipes-ml100k-rate$rate}
mkdir -p "$runs"

train() {  # NAME ARGS...
  local name=$1
  shift
  [[ -f $runs/$name/summary.json ]] && return
  rm -rf "${runs:?}/$name"
  echo "federated_recipes_ml100k: $name" >&2
  "$fedrec" --log-level warn train "$@" --set eval.protocol=full --set checkpoint.every=0 \
    --out "$runs/$name" > /dev/null
}
train central-modern --config examples/ml100k-sasrec-modern.toml --set train.epochs=200 \
  --set eval.every=10 --set train.patience=5
train federated-bce --config examples/ml100k-sasrec.toml --set "federation.rounds=$rounds" \
  --set "federation.sampling_rate=$rate" --set eval.every=50
train federated-modern --config examples/ml100k-sasrec.toml --set "federation.rounds=$rounds" \
  --set "federation.sampling_rate=$rate" --set eval.every=50 --set train.loss=sampled_softmax \
  --set train.negatives=256

python3 - "$runs" <<'PY'
import json, sys
runs = sys.argv[1]
central = json.load(open(f"{runs}/central-modern/summary.json"))
target = 0.9 * central["valid_at_best"]["NDCG@10"]
print(f"central modern: validation NDCG@10 {central['valid_at_best']['NDCG@10']:.4f} "
      f"(epoch {central['best_epoch']}); target 90% = {target:.4f}")
rows = [("federated-bce", "BCE (paper)"), ("federated-modern", "sampled softmax, 256 shared")]


def curve(name):
    """(round, valid NDCG@10, seconds so far: rounds and evaluations) per evaluation."""
    wall, out = 0.0, []
    for line in open(f"{runs}/{name}/metrics.jsonl"):
        m = json.loads(line)
        wall += m.get("round_seconds", 0.0) + m.get("seconds", {}).get("eval", 0.0)
        if "valid" in m:
            out.append((m["round"], m["valid"]["NDCG@10"], wall))
    return out


def first(points, level):
    hit = next((p for p in points if p[1] >= level), None)
    return f"{hit[0]} | {hit[2]:.0f}" if hit else f"not in {points[-1][0]} | -"


curves = {name: curve(name) for name, _ in rows}
bce_best = max(v for _, v, _ in curves["federated-bce"])
print(f"federated BCE's best validation NDCG@10: {bce_best:.4f}")
print("| federated loss | rounds to target | s to target | rounds to BCE's best | s to BCE's best "
      "| best valid NDCG@10 (round) | test full NDCG@10 | test sampled HR@10 | upload words / client |")
print("|---|---|---|---|---|---|---|---|---|")
for name, label in rows:
    s = json.load(open(f"{runs}/{name}/summary.json"))
    points = curves[name]
    best = max(points, key=lambda p: p[1])
    t = s["test_at_best"]
    print(f"| {label} | {first(points, target)} | {first(points, bce_best)} "
          f"| {best[1]:.4f} ({best[0]}) | {t['full']['NDCG@10']:.4f} "
          f"| {t['sampled']['HR@10']:.4f} | {s['upload_words_per_client']:,} |")
PY
