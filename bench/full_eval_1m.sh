#!/usr/bin/env bash
# Full-ranking evaluation at scale, end to end: 1,000,000 synthetic users x
# 100,000 items, a SASRec checkpoint with d = 32, maxlen 50, 2 blocks
# (federated, one round of 8 clients: the cheapest legal run), then
#   fedrec eval --protocol full     every user against every item
#   fedrec eval --protocol sampled  with 1 negative: loading and the SASRec
#                                   forward pass of every user, almost no scoring
# each timed with /usr/bin/time (wall, user + sys CPU, peak memory). The
# difference of the two is the user-by-item products and their counting.
#   bench/full_eval_1m.sh [THREADS=2] [USERS=1000000] [ITEMS=100000]
# Data and run stay in $FEDREC_BENCH_DIR (default /tmp/fedrec-eval1m) so a
# rerun skips the generation and the training.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
threads=${1:-2}
users=${2:-1000000}
items=${3:-100000}
fedrec=$(fedrec_binary)
dir=${FEDREC_BENCH_DIR:-/tmp/fedrec-eval1m}
mkdir -p "$dir"
data="$dir/synth-${users}x${items}.txt"
run="$dir/run-${users}x${items}"

if [[ ! -f $data ]]; then
  echo "generating $data" >&2
  "$fedrec" --log-level warn data synth --users "$users" --items "$items" --seed 1 \
    --out "$data" > /dev/null
fi
if [[ ! -f $run/checkpoints/best.ckpt && ! -f $run/checkpoints/last.ckpt ]]; then
  echo "training the checkpoint in $run" >&2
  rm -rf "$run"
  cat > "$dir/c.toml" <<TOML
seed = 1
[data]
path = "$data"
max_len = 50
[model]
type = "sasrec"
dim = 32
blocks = 2
[federation]
mode = "federated"
rounds = 1
clients_per_round = 8
[eval]
every = 0
final_protocols = "sampled"
negatives = 5
TOML
  "$fedrec" --log-level warn train --config "$dir/c.toml" --set "backend.threads=$threads" \
    --out "$run" > /dev/null
fi
ckpt=$run/checkpoints/best.ckpt
[[ -f $ckpt ]] || ckpt=$run/checkpoints/last.ckpt

timed() {
  local label=$1
  shift
  /usr/bin/time -f "%e %U %S %M" -o "$dir/time.txt" "$@" > "$dir/$label.out" 2> "$dir/$label.err"
  read -r wall user sys rss < "$dir/time.txt"
  printf '| %s | %s | %.1f | %.1f | %d |\n' "$label" "$(grep -o '"users": [0-9]*' \
    "$dir/$label.out" | grep -o '[0-9]*$')" "$wall" "$(echo "$user + $sys" | bc)" $((rss / 1024))
}

echo "fedrec eval, $users users x $items items, --threads $threads ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| protocol | users | wall s | CPU s | peak MiB |"
echo "|---|---|---|---|---|"
timed full "$fedrec" eval --checkpoint "$ckpt" --data "$data" --protocol full --threads "$threads"
timed sampled-1 "$fedrec" eval --checkpoint "$ckpt" --data "$data" --protocol sampled \
  --negatives 1 --threads "$threads"
