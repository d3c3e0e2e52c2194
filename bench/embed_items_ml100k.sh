#!/usr/bin/env bash
# Items per second of `fedrec data embed-items` (all-MiniLM-L6-v2) on
# ML-100K's 1682 titles: REPEATS runs, the median of `items_per_second`
# (encoding only: tokenizer + model, without loading the model or writing).
# Needs the model (FEDREC_WITH_ENCODER=1 scripts/setup.sh).
#   bench/embed_items_ml100k.sh [U_ITEM=data/ml-100k/u.item] [THREADS=2] [REPEATS=3] [BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
items=${1:-data/ml-100k/u.item}
threads=${2:-2}
repeats=${3:-3}
bin=${4:-build/apps/fedrec}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rates=()
for ((i = 0; i < repeats; ++i)); do
  rates+=("$("$bin" data embed-items --quiet --threads "$threads" --items "$items" \
    --out "$out/items.npy" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items_per_second"])')")
done
printf '%s\n' "${rates[@]}" | sort -g | awk -v t="$threads" '{r[NR]=$1} END {
  printf "embed-items: %d runs, %s threads, median %.0f items/s (min %.0f, max %.0f)\n",
    NR, t, r[int((NR + 1) / 2)], r[1], r[NR]}'
