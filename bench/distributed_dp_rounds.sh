#!/usr/bin/env bash
# What distributed DP costs per round against central DP, on the README's
# 100k-user comparison: `examples/synth100k-sasrec-distributed.toml` (SASRec
# d = 16, ~950 clients a round, D = 32,768 noise coordinates per client,
# secure aggregation on) with privacy.mode = central or distributed, 10
# rounds without evaluation or checkpoints, 2 threads. Per run, the median
# over rounds 2-10 of `round_seconds` and of `seconds.encode` (the clients'
# encoding: clipping, and under distributed DP rotation, rounding and noise)
# from metrics.jsonl; then the medians over REPEATS runs. With two binaries
# the runs alternate (A central, A distributed, B central, B distributed, ...)
# so machine noise hits both.
#   bench/distributed_dp_rounds.sh [REPEATS=3] [BINARY_A=build/apps/fedrec] [BINARY_B]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}
a=${2:-build/apps/fedrec}
b=${3:-}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
data=${FEDREC_SYNTH100K:-$out/synth100k-1k.txt}
if [[ ! -f $data ]]; then
  "$a" --log-level warn data synth --users 100000 --items 1000 --mean-length 20 --max-length 200 \
    --seed 7 --out "$data" > /dev/null
fi

# run BINARY MODE -> "round_median encode_median"
run() {
  local bin=$1 mode=$2 dir
  dir=$(mktemp -d -p "$out")
  "$bin" --log-level warn train --config examples/synth100k-sasrec-distributed.toml \
    --set "data.path=$data" --set federation.rounds=10 --set eval.every=0 \
    --set checkpoint.every=0 --set eval.final_protocols=sampled --set backend.threads=2 \
    --set "privacy.mode=$mode" --out "$dir/run" > /dev/null
  python3 - "$dir/run/metrics.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"round_seconds"' in l]
rows = [r for r in rows if r["round"] >= 2]
print(statistics.median(r["round_seconds"] for r in rows),
      statistics.median(r["seconds"]["encode"] for r in rows))
PY
}

binaries=("$a")
[[ -n $b ]] && binaries+=("$b")
declare -A rounds encodes
for ((i = 0; i < repeats; ++i)); do
  for bin in "${binaries[@]}"; do
    for mode in central distributed; do
      read -r r e < <(run "$bin" "$mode")
      rounds[$bin,$mode]+="$r "
      encodes[$bin,$mode]+="$e "
    done
  done
done

median() { python3 -c 'import statistics,sys; print("%.3f" % statistics.median(map(float, sys.argv[1:])))' "$@"; }
echo "| binary | mode | round s (median) | client encoding s (median) | runs |"
echo "|---|---|---|---|---|"
for bin in "${binaries[@]}"; do
  for mode in central distributed; do
    # shellcheck disable=SC2086
    echo "| $bin | $mode | $(median ${rounds[$bin,$mode]}) | $(median ${encodes[$bin,$mode]}) | $repeats |"
  done
  # shellcheck disable=SC2086
  echo "| $bin | distributed / central | $(python3 -c 'import sys; print("%.1fx" % (float(sys.argv[1]) / float(sys.argv[2])))' \
    "$(median ${rounds[$bin,distributed]})" "$(median ${rounds[$bin,central]})") | | |"
done
