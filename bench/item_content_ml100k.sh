#!/usr/bin/env bash
# SASRec on MovieLens-100K with item content: the titles, years and genres of
# u.item encoded by all-MiniLM-L6-v2 (`fedrec data embed-items`), then central
# SASRec with model.item_repr = id, text and id+text, test split, best on
# validation, both protocols; and the cold-start table: 20% of the items
# withheld from training (eval.cold_items = 0.2), metrics on the test targets
# that are cold items.
#   bench/item_content_ml100k.sh [RUNS_DIR]       (default runs/item-content)
#   FEDREC_RECIPE=paper|modern (default paper: examples/ml100k-sasrec-central.toml, 200
#   epochs; modern: examples/ml100k-sasrec-modern.toml, 60 epochs); FEDREC_EPOCHS=N overrides
# Needs ../shared/data/ml-100k and the MiniLM model (FEDREC_WITH_ENCODER=1 scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ml=../shared/data/ml-100k
[[ -f $ml/u.data && -f $ml/u.item ]] || { echo "item_content_ml100k: $ml not found" >&2; exit 2; }
model_dir=${FEDREC_ENCODER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fedrec/models/all-MiniLM-L6-v2}
# shellcheck source=bench/common.sh
source bench/common.sh
fedrec=$(fedrec_binary)
runs=${1:-runs/item-content}
mkdir -p "$runs"
recipe=${FEDREC_RECIPE:-paper}
case $recipe in
  paper) config=examples/ml100k-sasrec-central.toml; epochs=${FEDREC_EPOCHS:-200} ;;
  modern) config=examples/ml100k-sasrec-modern.toml; epochs=${FEDREC_EPOCHS:-60} ;;
  *) echo "item_content_ml100k: FEDREC_RECIPE is paper or modern" >&2; exit 2 ;;
esac

features="$runs/ml100k-minilm.npy"
if [[ ! -f $features ]]; then
  [[ -f $model_dir/model.safetensors ]] ||
    { echo "item_content_ml100k: no encoder in $model_dir; run FEDREC_WITH_ENCODER=1 scripts/setup.sh" >&2; exit 2; }
  "$fedrec" data embed-items --items "$ml/u.item" --model "$model_dir" --out "$features" >&2
fi

train() {  # NAME OVERRIDES...
  local name=$1
  shift
  if [[ ! -f "$runs/$name/summary.json" ]]; then
    rm -rf "${runs:?}/$name"
    "$fedrec" --log-level warn train --config "$config" --set "train.epochs=$epochs" --set eval.every=10 \
      --set checkpoint.every=0 --set "data.item_features=$features" "$@" \
      --out "$runs/$name" > /dev/null
  fi
}
for repr in id text id+text; do
  train "$repr" --set "model.item_repr=$repr"
  train "cold-$repr" --set "model.item_repr=$repr" --set eval.cold_items=0.2
done

python3 - "$runs" "$recipe" <<'PY'
import json, sys
runs, recipe = sys.argv[1], sys.argv[2]
def load(name):
    return json.load(open(f"{runs}/{name}/summary.json"))
print(f"SASRec (recipe {recipe}), ML-100K min_count 5, test split, best on validation")
print("| item_repr | epochs (best) | sampled HR@10 | sampled NDCG@10 | full HR@10 | full NDCG@10 | train s |")
print("|---|---|---|---|---|---|---|")
for r in ["id", "text", "id+text"]:
    s = load(r); t = s["test_at_best"]
    print(f"| {r} | {s['epochs']} ({s['best_epoch']}) | {t['sampled']['HR@10']:.4f} | {t['sampled']['NDCG@10']:.4f} "
          f"| {t['full']['HR@10']:.4f} | {t['full']['NDCG@10']:.4f} | {s['train_seconds']:.0f} |")
print()
print("Cold start: 20% of items withheld from training; metrics over the test targets that are cold")
print("| item_repr | cold users | sampled HR@10 | sampled NDCG@10 | full HR@10 | full NDCG@10 | all users full NDCG@10 |")
print("|---|---|---|---|---|---|---|")
for r in ["id", "text", "id+text"]:
    s = load(f"cold-{r}"); t = s["test_at_best"]; c = s.get("cold_start", {})
    cs, cf = c.get("sampled", {}), c.get("full", {})
    print(f"| {r} | {c.get('cold_target_users', '-')} | {cs.get('HR@10', float('nan')):.4f} | {cs.get('NDCG@10', float('nan')):.4f} "
          f"| {cf.get('HR@10', float('nan')):.4f} | {cf.get('NDCG@10', float('nan')):.4f} | {t['full']['NDCG@10']:.4f} |")
print("chance on the sampled protocol: HR@10 = 10/101 = 0.0990")
PY
