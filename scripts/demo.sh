#!/usr/bin/env bash
# The main-job demo (README): a synthetic dataset with known structure ->
# statistics -> popularity baseline -> federated SASRec training (coordinator
# and workers as threads; under mpirun too when Open MPI is there) ->
# evaluation of the best checkpoint under the sampled and full-ranking
# protocols -> recommendations -> item content (synthetic features, 20% cold
# items, id against text items) -> a one-screen table and the run's picture
# (scripts/plot_run.py: runs/demo/sasrec/report.png). The JSON of every step
# stays in files in the output directory.
#   FEDREC_DEMO_USERS / FEDREC_DEMO_ITEMS   size of the synthetic dataset
#   FEDREC_DEMO_ROUNDS                       federated rounds (default 200)
#   FEDREC_DEMO_CONTENT_ROUNDS               rounds of the two item-content runs (default 100)
#   FEDREC_DEMO_DIR                          output directory (default runs/demo)
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=$(scripts/build.sh | tail -n 1)
fedrec="$build_dir/apps/fedrec"
out=${FEDREC_DEMO_DIR:-runs/demo}
users=${FEDREC_DEMO_USERS:-5000}
items=${FEDREC_DEMO_ITEMS:-2000}
rounds=${FEDREC_DEMO_ROUNDS:-200}
content_rounds=${FEDREC_DEMO_CONTENT_ROUNDS:-100}
rm -rf "$out"
mkdir -p "$out"

# Every step's JSON goes to a file in $out; the screen gets one line per step
# and a table at the end (scripts/demo_summary.py).
echo "== synthetic dataset: $users users, $items items with cluster structure -> $out/synth.txt"
"$fedrec" data synth --users "$users" --items "$items" --seed 1 --out "$out/synth.txt" \
  --item-features "$out/items.npy" > "$out/synth.json"
"$fedrec" data stats --input "$out/synth.txt" > "$out/stats.json"
echo "== popularity baseline on the test split (sampled and full-ranking protocols)"
"$fedrec" eval --model pop --data "$out/synth.txt" --split test > "$out/pop_sampled.json"
"$fedrec" eval --model pop --data "$out/synth.txt" --split test --protocol full \
  > "$out/pop_full.json"

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
"$fedrec" --log-level warn train --config "$out/sasrec.toml" --out "$out/sasrec" >/dev/null
if command -v mpirun >/dev/null; then
  echo "== the same job under mpirun (rank 0 coordinates, 2 worker ranks)"
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -np 3 \
    "$fedrec" --log-level warn train --config "$out/sasrec.toml" --out "$out/sasrec-mpi" >/dev/null
fi
echo "== the best checkpoint on the test split; recommendations after items 1 2 3"
best="$out/sasrec/checkpoints/best.ckpt"
for protocol in sampled full; do
  "$fedrec" eval --checkpoint "$best" --data "$out/synth.txt" --protocol "$protocol" \
    --split test --seed 1 > "$out/sasrec_$protocol.json"
done
"$fedrec" recommend --checkpoint "$best" --history "1 2 3" -k 5 > "$out/recommend.json"
"$fedrec" inspect "$best" > "$out/inspect.txt"
# Debian's interpreter first: python3-matplotlib is installed for it.
py=$(command -v /usr/bin/python3 || command -v python3)
if "$py" -c "import matplotlib" 2>/dev/null; then
  "$py" scripts/plot_run.py "$out/sasrec" >/dev/null
else
  echo "(no picture: python3-matplotlib is not installed)"
fi

echo "== item content: features that carry each item's cluster ($out/items.npy), a fifth of"
echo "   the items never trained on (eval.cold_items = 0.2); SASRec with id items, then text items"
for repr in id text; do
  "$fedrec" --log-level warn train --config "$out/sasrec.toml" --set "model.item_repr=$repr" \
    --set "data.item_features=$out/items.npy" --set eval.cold_items=0.2 \
    --set "federation.rounds=$content_rounds" --set eval.every=0 --set checkpoint.every=0 \
    --set eval.final_protocols=sampled --out "$out/content-$repr" >/dev/null
done

if [[ -f ../shared/data/ml-100k/u.data ]]; then
  echo "== MovieLens-100K (../shared/data): popularity baseline -> $out/ml100k_pop.json"
  "$fedrec" eval --model pop --data ../shared/data/ml-100k/u.data --min-count 5 --split test \
    > "$out/ml100k_pop.json"
fi

echo
echo "== what the demo showed"
"$py" scripts/demo_summary.py "$out"
