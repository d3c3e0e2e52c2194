#!/usr/bin/env bash
# The main-job demo (README). Today: generate a synthetic dataset with known
# structure, print its statistics, and evaluate the popularity baseline under
# both protocols. Later issues turn this into a federated, private, secure run.
#   FEDREC_DEMO_USERS / FEDREC_DEMO_ITEMS   size of the synthetic dataset
#   FEDREC_DEMO_DIR                          output directory (default runs/demo)
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=$(scripts/build.sh | tail -n 1)
fedrec="$build_dir/apps/fedrec"
out=${FEDREC_DEMO_DIR:-runs/demo}
users=${FEDREC_DEMO_USERS:-20000}
items=${FEDREC_DEMO_ITEMS:-5000}
mkdir -p "$out"

echo "== synthetic dataset: $users users, $items items"
"$fedrec" data synth --users "$users" --items "$items" --seed 1 --out "$out/synth.txt"
echo "== statistics"
"$fedrec" data stats --input "$out/synth.txt"
for protocol in sampled full; do
  echo "== popularity baseline, test split, $protocol protocol"
  "$fedrec" eval --model pop --data "$out/synth.txt" --protocol "$protocol" --split test
done
if [[ -f ../shared/data/ml-100k/u.data ]]; then
  echo "== MovieLens-100K (../shared/data), popularity baseline, sampled protocol"
  "$fedrec" eval --model pop --data ../shared/data/ml-100k/u.data --min-count 5 --split test
fi
