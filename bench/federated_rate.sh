#!/usr/bin/env bash
# Federated client updates per second on the demo's configuration (5,000
# synthetic users x 2,000 items, SASRec d 32, maxlen 50, 2 workers, ~10% of
# the clients per round, FedAdam), 30 rounds without evaluation or
# checkpoints, `client_updates_per_second` from summary.json. With two
# binaries the runs alternate (A, B, A, B, ...) so machine noise hits both;
# medians and their ratio.
#   bench/federated_rate.sh [REPEATS=3] [BINARY_A=build/apps/fedrec] [BINARY_B]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}
a=${2:-build/apps/fedrec}
b=${3:-}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$a" data synth --users 5000 --items 2000 --seed 1 --out "$out/synth.txt" >/dev/null
cat > "$out/c.toml" <<TOML
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
rounds = 30
sampling_rate = 0.1
server_optimizer = "fedadam"
server_lr = 0.05
[eval]
every = 0
[checkpoint]
every = 0
TOML
run() {  # run BINARY TAG INDEX
  "$1" --log-level warn train --config "$out/c.toml" --out "$out/$2-$3" >/dev/null
}
for r in $(seq 1 "$repeats"); do
  run "$a" a "$r"
  [[ -n $b ]] && run "$b" b "$r"
done
python3 - "$out" "$repeats" "$a" "$b" <<'PY'
import json, statistics, sys
out, repeats, a, b = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def rates(tag):
    return [json.load(open(f"{out}/{tag}-{r}/summary.json")) for r in range(1, repeats + 1)]
print(f"federated demo configuration, 30 rounds, {repeats} alternating runs (medians)")
print("| binary | ISA | client updates/s |")
print("|---|---|---|")
med = {}
for tag, binary in (("a", a), ("b", b)):
    if not binary:
        continue
    s = rates(tag)
    med[tag] = statistics.median(x["client_updates_per_second"] for x in s)
    print(f"| {binary} | {s[0].get('build_isa', 'baseline (not recorded)')} | {med[tag]:.0f} |")
if "b" in med:
    print(f"ratio A / B: {med['a'] / med['b']:.2f}x")
PY
