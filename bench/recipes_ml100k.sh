#!/usr/bin/env bash
# The paper preset against the modern one on MovieLens-100K, both trained to
# convergence: central SASRec, up to 200 epochs with early stopping
# (train.patience = 5 evaluations, every 10 epochs), the model selected on
# full-ranking validation NDCG@10, test metrics under both protocols; plus
# full softmax and 1024 shared negatives for reference. One run per seed.
#   bench/recipes_ml100k.sh [RUNS_DIR]       (default runs/recipes-ml100k)
# Variables:
#   FEDREC_SEEDS ("42 7"), FEDREC_EPOCHS (200), FEDREC_BIN (a fedrec binary;
#   default: build), FEDREC_ROWS ("paper modern"; also SASRec's ce, ss64,
#   ss1024, gbce, and with a separate output embedding gbce-sep and
#   modern-sep; GRU4Rec's gru-bpr, gru-ss64, gru-ss100, gru-ss256,
#   gru-ss256-cos, gru-ss1024, gru-gbce, gru-ce, and with a separate output
#   embedding gru-ss256-sep, gru-gbce-sep, gru-bpr-sep; the softmax-type
#   losses share their negatives by sequence),
#   FEDREC_DATA_ARGS: extra --set arguments naming other data
#   (bench/recipes_synth.sh).
# Needs ../shared/data/ml-100k unless FEDREC_DATA_ARGS names other data.
# Resumable: finished runs are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a data_args <<< "${FEDREC_DATA_ARGS:-}"
if [[ ${#data_args[@]} -eq 0 && ! -f ../shared/data/ml-100k/u.data ]]; then
  echo "recipes_ml100k: ../shared/data/ml-100k not found" >&2
  exit 2
fi
# shellcheck source=bench/common.sh
source bench/common.sh
fedrec=$(fedrec_binary)
runs=${1:-runs/recipes-ml100k}
seeds=${FEDREC_SEEDS:-42 7}
epochs=${FEDREC_EPOCHS:-200}
rows=${FEDREC_ROWS:-paper modern}
mkdir -p "$runs"

for seed in $seeds; do
  for row in $rows; do
    case $row in
      paper) args=(--config examples/ml100k-sasrec-central.toml) ;;
      modern) args=(--config examples/ml100k-sasrec-modern.toml) ;;
      ce) args=(--config examples/ml100k-sasrec-central.toml --set train.loss=ce) ;;
      ss64) args=(--config examples/ml100k-sasrec-central.toml --set train.loss=sampled_softmax
                  --set train.negatives=64) ;;
      ss1024) args=(--config examples/ml100k-sasrec-central.toml --set train.loss=sampled_softmax
                    --set train.negatives=1024) ;;
      gbce) args=(--config examples/ml100k-sasrec-central.toml --set train.loss=gbce
                  --set train.negatives=256) ;;
      gbce-sep) args=(--config examples/ml100k-sasrec-central.toml --set train.loss=gbce
                      --set train.negatives=256 --set model.output_embedding=separate) ;;
      modern-sep) args=(--config examples/ml100k-sasrec-modern.toml
                        --set model.output_embedding=separate) ;;
      gru-bpr) args=(--config examples/ml100k-gru4rec.toml) ;;
      gru-ss64) args=(--config examples/ml100k-gru4rec.toml --set train.loss=sampled_softmax
                      --set train.negatives=64) ;;
      gru-ss100) args=(--config examples/ml100k-gru4rec.toml --set train.loss=sampled_softmax
                       --set train.negatives=100) ;;
      gru-ss1024) args=(--config examples/ml100k-gru4rec.toml --set train.loss=sampled_softmax
                        --set train.negatives=1024) ;;
      gru-ss256) args=(--config examples/ml100k-gru4rec.toml --set train.loss=sampled_softmax
                       --set train.negatives=256) ;;
      gru-ss256-cos) args=(--config examples/ml100k-gru4rec.toml --set train.loss=sampled_softmax
                           --set train.negatives=256 --set train.normalize_embeddings=true
                           --set train.temperature=0.05) ;;
      gru-gbce) args=(--config examples/ml100k-gru4rec.toml --set train.loss=gbce
                      --set train.negatives=256) ;;
      gru-ss256-sep) args=(--config examples/ml100k-gru4rec.toml --set train.loss=sampled_softmax
                           --set train.negatives=256 --set model.output_embedding=separate) ;;
      gru-gbce-sep) args=(--config examples/ml100k-gru4rec.toml --set train.loss=gbce
                          --set train.negatives=256 --set model.output_embedding=separate) ;;
      gru-bpr-sep) args=(--config examples/ml100k-gru4rec.toml
                         --set model.output_embedding=separate) ;;
      gru-ce) args=(--config examples/ml100k-gru4rec.toml --set train.loss=ce) ;;
      *) echo "recipes_ml100k: unknown row '$row'" >&2; exit 2 ;;
    esac
    dir="$runs/$row-s$seed"
    [[ -f $dir/summary.json ]] && continue
    rm -rf "$dir"
    echo "recipes_ml100k: $row, seed $seed" >&2
    "$fedrec" --log-level warn train "${args[@]}" "${data_args[@]}" --set "seed=$seed" \
      --set "train.epochs=$epochs" \
      --set eval.every=10 --set eval.protocol=full --set train.patience=5 --set checkpoint.every=0 \
      --out "$dir" > /dev/null
  done
done

python3 - "$runs" "$seeds" $rows <<'PY'
import json, statistics, sys
runs, seeds, rows = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
print("| preset / loss | seed | best epoch | stopped at | full HR@10 | full NDCG@10 | sampled HR@10 | sampled NDCG@10 | train s |")
print("|---|---|---|---|---|---|---|---|---|")
mean = {}
for row in rows:
    for seed in seeds:
        s = json.load(open(f"{runs}/{row}-s{seed}/summary.json"))
        t = s["test_at_best"]
        mean.setdefault(row, []).append(t["full"]["NDCG@10"])
        print(f"| {row} | {seed} | {s['best_epoch']} | {s.get('stopped_at_epoch', s['epochs'])} "
              f"| {t['full']['HR@10']:.4f} | {t['full']['NDCG@10']:.4f} | {t['sampled']['HR@10']:.4f} "
              f"| {t['sampled']['NDCG@10']:.4f} | {s['train_seconds']:.0f} |")
print()
# Each model against its paper loss: SASRec rows against "paper", GRU4Rec's
# against "gru-bpr".
for row, v in mean.items():
    base_row = "gru-bpr" if row.startswith("gru-") else "paper"
    base = statistics.mean(mean[base_row]) if base_row in mean else None
    gain = f", {100 * (statistics.mean(v) / base - 1):+.1f}% against {base_row}" if base else ""
    print(f"{row}: mean full NDCG@10 {statistics.mean(v):.4f} over {len(v)} seed(s){gain}")
PY
