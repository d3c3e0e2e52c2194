#!/usr/bin/env bash
# Central SASRec training throughput, fedrec against the PyTorch peer
# (../shared/bench/sasrec_torch.py), side by side on the same machine, same
# data (raw ML-100K u.data, as the peer reads it), the paper's configuration
# (d 50, 2 blocks, 1 head, maxlen 200, dropout 0.2, Adam 1e-3, batch 128),
# both on all cores, the same number of epochs. Runs alternate
# (fedrec, torch, fedrec, torch, ...) so machine noise hits both; medians.
#   bench/sasrec_vs_torch.sh [EPOCHS=20] [REPEATS=3]
# Needs python3-torch, python3-numpy, libopenblas0-pthread (/usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-20}
repeats=${2:-3}
data=../shared/data/ml-100k/u.data
peer=../shared/bench/sasrec_torch.py
[[ -f $data && -f $peer ]] || { echo "sasrec_vs_torch: needs $data and $peer" >&2; exit 2; }
# Debian's torch calls the system BLAS: the reference one makes the peer
# about five times slower, which would inflate the ratio.
blas=$(/usr/bin/python3 - <<'PY'
import re
import torch  # noqa: F401  (loads the BLAS torch links against)
maps = open("/proc/self/maps").read()
print("openblas" if re.search(r"openblas", maps) else "reference or other")
PY
)
[[ $blas == openblas ]] || {
  echo "sasrec_vs_torch: the peer's torch is not using OpenBLAS ($blas); apt-get install libopenblas0-pthread" >&2
  exit 2
}
threads=$(nproc)
build_dir=$(scripts/build.sh | tail -n 1)
fedrec="$build_dir/apps/fedrec"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for r in $(seq 1 "$repeats"); do
  "$fedrec" --log-level warn train --config examples/ml100k-sasrec-central.toml \
    --set data.min_count=0 --set "train.epochs=$epochs" --set eval.every=0 \
    --set checkpoint.every=0 --set "backend.threads=$threads" --set "seed=$r" \
    --out "$out/fedrec-$r" > "$out/fedrec-$r.json"
  /usr/bin/python3 "$peer" --data "$data" --epochs "$epochs" --threads "$threads" --seed "$r" \
    | tail -n 1 > "$out/torch-$r.json"
done

python3 - "$out" "$repeats" "$epochs" "$threads" <<'PY'
import json, statistics, sys
out, repeats, epochs, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
f = [json.load(open(f"{out}/fedrec-{r}.json")) for r in range(1, repeats + 1)]
t = [json.load(open(f"{out}/torch-{r}.json")) for r in range(1, repeats + 1)]
med = statistics.median
f_tp = med(x["sequences_per_second_median"] for x in f)
t_tp = med(x["train_seqs_per_s"] for x in t)
print(f"SASRec, raw ML-100K, {epochs} epochs, {threads} threads, {repeats} alternating runs (medians)")
print("| trainer | train seq/s | test HR@10 (sampled) | test NDCG@10 (sampled) |")
print("|---|---|---|---|")
print(f"| fedrec | {f_tp:.0f} | {med(x['test_at_best']['sampled']['HR@10'] for x in f):.4f} "
      f"| {med(x['test_at_best']['sampled']['NDCG@10'] for x in f):.4f} |")
print(f"| PyTorch {t[0]['torch']} | {t_tp:.0f} | {med(x['test_hr@10'] for x in t):.4f} "
      f"| {med(x['test_ndcg@10'] for x in t):.4f} |")
print(f"speed ratio fedrec / PyTorch: {f_tp / t_tp:.2f}x")
print("(fedrec counts ties against the model and excludes the whole sequence from negatives;"
      " the peer counts ties in the model's favour and excludes only training items)")
PY
