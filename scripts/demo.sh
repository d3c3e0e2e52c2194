#!/usr/bin/env bash
# The main-job demo (README): a synthetic dataset with known structure ->
# statistics -> popularity baseline -> federated SASRec training (coordinator
# and workers as threads; under mpirun too when Open MPI is there) ->
# evaluation of the best checkpoint under the full-ranking protocol ->
# recommendations.
#   FEDREC_DEMO_USERS / FEDREC_DEMO_ITEMS   size of the synthetic dataset
#   FEDREC_DEMO_ROUNDS                       federated rounds (default 200)
#   FEDREC_DEMO_DIR                          output directory (default runs/demo)
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=$(scripts/build.sh | tail -n 1)
fedrec="$build_dir/apps/fedrec"
out=${FEDREC_DEMO_DIR:-runs/demo}
users=${FEDREC_DEMO_USERS:-5000}
items=${FEDREC_DEMO_ITEMS:-2000}
rounds=${FEDREC_DEMO_ROUNDS:-200}
rm -rf "$out"
mkdir -p "$out"

echo "== synthetic dataset: $users users, $items items"
"$fedrec" data synth --users "$users" --items "$items" --seed 1 --out "$out/synth.txt"
echo "== statistics"
"$fedrec" data stats --input "$out/synth.txt"
echo "== popularity baseline, test split, sampled protocol"
"$fedrec" eval --model pop --data "$out/synth.txt" --split test

echo "== federated SASRec: $rounds rounds, ~10% of the clients per round, 2 workers, FedAdam"
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
local_epochs = 1
local_lr = 0.1
[federation]
mode = "federated"
workers = 2
rounds = $rounds
sampling_rate = 0.1
server_optimizer = "fedadam"
server_lr = 0.05
[eval]
every = 20
[checkpoint]
every = 50
TOML
"$fedrec" --log-level warn train --config "$out/sasrec.toml" --out "$out/sasrec"
if command -v mpirun >/dev/null; then
  echo "== the same job under mpirun (rank 0 coordinates, 2 worker ranks): same model_sha256"
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -np 3 \
    "$fedrec" --log-level warn train --config "$out/sasrec.toml" --out "$out/sasrec-mpi" |
    grep -E '"(backend|workers|model_sha256)"'
fi
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
