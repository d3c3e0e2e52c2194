#!/usr/bin/env bash
# Trains every model centrally on MovieLens-100K (examples/ml100k-*.toml) and
# prints the quality table: test split, model selected on validation NDCG@10,
# sampled (100 negatives) and full-ranking protocols, plus pop.
#   bench/quality_ml100k.sh [RUNS_DIR]      (default runs/quality)
#   FEDREC_EPOCHS=N overrides train.epochs for a quick look.
set -euo pipefail
cd "$(dirname "$0")/.."
data=../shared/data/ml-100k/u.data
[[ -f $data ]] || { echo "quality_ml100k: $data not found" >&2; exit 2; }
build_dir=$(scripts/build.sh | tail -n 1)
fedrec="$build_dir/apps/fedrec"
runs=${1:-runs/quality}
mkdir -p "$runs"
overrides=()
[[ -n "${FEDREC_EPOCHS:-}" ]] && overrides=(--set "train.epochs=$FEDREC_EPOCHS")

for model in sasrec gru4rec mf-bpr; do
  if [[ ! -f "$runs/$model/summary.json" ]]; then
    rm -rf "${runs:?}/$model"
    "$fedrec" --log-level warn train --config "examples/ml100k-$model.toml" "${overrides[@]}" \
      --out "$runs/$model" > /dev/null
  fi
done
for protocol in sampled full; do
  "$fedrec" eval --model pop --data "$data" --min-count 5 --protocol "$protocol" --split test \
    > "$runs/pop-$protocol.json"
done

python3 - "$runs" <<'PY'
import json, sys
runs = sys.argv[1]
print("| model | epochs (best) | sampled HR@10 | sampled NDCG@10 | full HR@10 | full NDCG@10 | train seq/s |")
print("|---|---|---|---|---|---|---|")
for m in ["sasrec", "gru4rec", "mf-bpr"]:
    s = json.load(open(f"{runs}/{m}/summary.json"))
    t = s["test_at_best"]
    print(f"| {m} | {s['epochs']} ({s['best_epoch']}) | {t['sampled']['HR@10']:.4f} | {t['sampled']['NDCG@10']:.4f} "
          f"| {t['full']['HR@10']:.4f} | {t['full']['NDCG@10']:.4f} | {s.get('sequences_per_second_median', 0):.0f} |")
ps = json.load(open(f"{runs}/pop-sampled.json")); pf = json.load(open(f"{runs}/pop-full.json"))
print(f"| pop | - | {ps['HR@10']:.4f} | {ps['NDCG@10']:.4f} | {pf['HR@10']:.4f} | {pf['NDCG@10']:.4f} | - |")
PY
