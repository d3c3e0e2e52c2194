#!/usr/bin/env bash
# The main-job demo (README): a synthetic dataset with known structure ->
# statistics -> popularity baseline -> central SASRec training -> evaluation
# of the best checkpoint under the full-ranking protocol -> recommendations.
# (Federated, private, secure training arrives with issues #4-#6.)
#   FEDREC_DEMO_USERS / FEDREC_DEMO_ITEMS   size of the synthetic dataset
#   FEDREC_DEMO_EPOCHS                       SASRec epochs (default 5)
#   FEDREC_DEMO_DIR                          output directory (default runs/demo)
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=$(scripts/build.sh | tail -n 1)
fedrec="$build_dir/apps/fedrec"
out=${FEDREC_DEMO_DIR:-runs/demo}
users=${FEDREC_DEMO_USERS:-5000}
items=${FEDREC_DEMO_ITEMS:-2000}
epochs=${FEDREC_DEMO_EPOCHS:-5}
rm -rf "$out"
mkdir -p "$out"

echo "== synthetic dataset: $users users, $items items"
"$fedrec" data synth --users "$users" --items "$items" --seed 1 --out "$out/synth.txt"
echo "== statistics"
"$fedrec" data stats --input "$out/synth.txt"
echo "== popularity baseline, test split, sampled protocol"
"$fedrec" eval --model pop --data "$out/synth.txt" --split test

echo "== central SASRec, $epochs epochs (maxlen 50, d 32)"
cat > "$out/sasrec.toml" <<TOML
seed = 1
[data]
path = "$out/synth.txt"
max_len = 50
[model]
type = "sasrec"
dim = 32
blocks = 2
dropout = 0.2
[train]
epochs = $epochs
batch_size = 128
lr = 0.002
[federation]
mode = "central"
[eval]
every = 1
TOML
"$fedrec" --log-level warn train --config "$out/sasrec.toml" --out "$out/sasrec"
echo "== best checkpoint, full-ranking protocol"
"$fedrec" eval --checkpoint "$out/sasrec/checkpoints/best.ckpt" --data "$out/synth.txt" \
  --protocol full --split test --seed 1
echo "== recommendations after items 1 2 3"
"$fedrec" recommend --checkpoint "$out/sasrec/checkpoints/best.ckpt" --history "1 2 3" -k 5
"$fedrec" inspect "$out/sasrec/checkpoints/best.ckpt"

if [[ -f ../shared/data/ml-100k/u.data ]]; then
  echo "== MovieLens-100K (../shared/data), popularity baseline, sampled protocol"
  "$fedrec" eval --model pop --data ../shared/data/ml-100k/u.data --min-count 5 --split test
fi
