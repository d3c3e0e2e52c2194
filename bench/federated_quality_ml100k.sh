#!/usr/bin/env bash
# Federated SASRec on MovieLens-100K (examples/ml100k-sasrec.toml: FedAdam,
# ~100 clients per round, 2 local epochs) against the central model's best
# validation NDCG@10 (runs/quality/sasrec from bench/quality_ml100k.sh, or
# the number given): prints the curve (round, valid NDCG@10, HR@10, seconds)
# and the first round that reaches 90% of the central model.
#   bench/federated_quality_ml100k.sh [CENTRAL_VALID_NDCG] [extra --set ...]
set -euo pipefail
cd "$(dirname "$0")/.."
central=${1:-}
shift || true
if [[ -z "$central" && -f runs/quality/sasrec/summary.json ]]; then
  central=$(python3 -c "import json;print(json.load(open('runs/quality/sasrec/summary.json'))['valid_at_best']['NDCG@10'])")
fi
central=${central:-0.4584}
build_dir=$(scripts/build.sh | tail -n 1)
out=runs/federated-quality
rm -rf "$out"
"$build_dir/apps/fedrec" --log-level warn train --config examples/ml100k-sasrec.toml "$@" --out "$out" >/dev/null
python3 - "$out" "$central" <<'PY'
import json, sys
out, central = sys.argv[1], float(sys.argv[2])
target = 0.9 * central
t, first = 0.0, None
print("| round | valid NDCG@10 | valid HR@10 | seconds |")
print("|---|---|---|---|")
for line in open(f"{out}/metrics.jsonl"):
    d = json.loads(line)
    t += d["round_seconds"] + d["seconds"].get("eval", 0) + d["seconds"].get("checkpoint", 0)
    if "valid" in d:
        v = d["valid"]
        print(f"| {d['round']} | {v['NDCG@10']:.4f} | {v['HR@10']:.4f} | {t:.0f} |")
        if first is None and v["NDCG@10"] >= target:
            first = (d["round"], t)
s = json.load(open(f"{out}/summary.json"))
print(f"central valid NDCG@10 {central:.4f}; 90% = {target:.4f}; first reached at "
      + (f"round {first[0]} after {first[1]:.0f} s" if first else "no round"))
print(f"best round {s['best_round']}: valid NDCG@10 {s['valid_at_best']['NDCG@10']:.4f} "
      f"({s['valid_at_best']['NDCG@10'] / central:.1%} of central); test sampled "
      f"HR@10 {s['test_at_best']['sampled']['HR@10']:.4f} NDCG@10 {s['test_at_best']['sampled']['NDCG@10']:.4f}; "
      f"wall {s['wall_seconds']:.0f} s")
PY
