#!/usr/bin/env bash
# The losses of bench/recipes_ml100k.sh on synthetic data (fedrec data synth:
# 2,000 users, 500 items, 20 interest clusters, seed 5), both sequence
# models, trained to convergence with early stopping, model selected on
# full-ranking validation NDCG@10, test metrics under both protocols.
#   bench/recipes_synth.sh [RUNS_DIR]        (default runs/recipes-synth)
# Variables: FEDREC_SEEDS ("42"), FEDREC_EPOCHS (100), FEDREC_ROWS (every
#   loss of both models), FEDREC_BIN, as bench/recipes_ml100k.sh.
# Needs no dataset. Resumable: finished runs are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh
fedrec=$(fedrec_binary)
runs=${1:-runs/recipes-synth}
mkdir -p "$runs"
data="$runs/synth-2000x500.txt"
if [[ ! -f $data ]]; then
  "$fedrec" --log-level warn data synth --users 2000 --items 500 --mean-length 20 \
    --max-length 200 --seed 5 --out "$data" > /dev/null
fi
FEDREC_BIN=$fedrec \
  FEDREC_SEEDS=${FEDREC_SEEDS:-42} \
  FEDREC_EPOCHS=${FEDREC_EPOCHS:-100} \
  FEDREC_ROWS=${FEDREC_ROWS:-paper modern ss64 ss1024 gbce ce gru-bpr gru-ss64 gru-ss256 gru-ss1024 gru-gbce gru-ce} \
  FEDREC_DATA_ARGS="--set data.path=$data --set data.format=sasrec --set data.min_count=1" \
  bench/recipes_ml100k.sh "$runs"
