#!/usr/bin/env bash
# Every GPU check in one run, on a lent device machine (README "GPU checks").
# Runs from the repository root there, with gpu-bundle/ carried in (made here
# by scripts/gpu-bundle.sh). Writes logs and one table, summary.md, under
# $OUT (default out/gpu-check). Each step has its own time limit, so the
# whole run stays within 9 minutes (10 with two GPUs) and a hung step
# cannot eat the rest:
#   1. the device (nvidia-smi) and the CUDA libraries found
#   2. the GPU tests (cuda_test; the NCCL backend's tests in comm_test)
#   3. the GPU benchmarks (the SASRec step, full softmax against BCE at
#      25k items among its rows, a federated round's clients
#      batched on the device for cohorts of 1,000 and 10,000, NCCL
#      AllreduceSum, the GRU4Rec step beside the CPU's)
#   3c. the demo's federated SASRec with backend.compute = cuda end to end
#      (synthetic data, 1,000 clients a round)
#   3b. with two or more GPUs: a federated run whose sums go through NCCL
#      must end with the same model_sha256 as the same run over threads
#   4. central SASRec with backend.compute = cuda against the PyTorch peer on
#      the same GPU (../shared/bench/sasrec_torch.py --device cuda)
#   5. central GRU4Rec (the modern recipe) with backend.compute = cuda
#      against the same run on the machine's CPU
# A step that fails is recorded and the next one still runs; the exit status
# is 1 when any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bundle=${FEDREC_GPU_BUNDLE:-gpu-bundle}
out=${OUT:-out/gpu-check}
mkdir -p "$out"
summary="$out/summary.md"
echo "| step | status | seconds | detail |" > "$summary"
echo "|---|---|---|---|" >> "$summary"
failed=0

# CUDA libraries: the device's toolkit, else PyTorch's bundled nvidia wheels.
cuda_dirs=()
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [[ -d $d ]] && cuda_dirs+=("$d")
done
if command -v python3 > /dev/null; then
  while read -r d; do [[ -n $d ]] && cuda_dirs+=("$d"); done < <(python3 - <<'PY' 2>/dev/null
import glob, os
try:
    import nvidia
    for root in nvidia.__path__:
        for d in sorted(glob.glob(os.path.join(root, "*", "lib"))):
            print(d)
except ImportError:
    pass
PY
)
fi
lib_path="$bundle/lib"
for d in "${cuda_dirs[@]}"; do lib_path+=":$d"; done
export LD_LIBRARY_PATH="$lib_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# step NAME LIMIT_SECONDS COMMAND...: runs it with a limit, logs to $out/NAME.log.
step() {
  local name=$1 limit=$2
  shift 2
  local start end rc detail
  start=$(date +%s.%N)
  timeout --kill-after=5 "$limit" "$@" > "$out/$name.log" 2>&1
  rc=$?
  end=$(date +%s.%N)
  detail=$(grep -E "PASSED|FAILED|SKIPPED|error|seqs_per_s|client_updates|users_per_s|GFLOP" "$out/$name.log" | tail -n 2 | tr '\n|' '  ')
  local status=ok
  if ((rc == 124 || rc == 137)); then
    status="timed out (${limit}s)"
  elif ((rc != 0)); then
    status="failed (exit $rc)"
  fi
  [[ $status == ok ]] || failed=1
  printf '| %s | %s | %s | %s |\n' "$name" "$status" \
    "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')" "$detail" >> "$summary"
}

step device 20 bash -c "nvidia-smi && echo && echo LD_LIBRARY_PATH=$LD_LIBRARY_PATH && \
  { ldd $bundle/bin/cuda_test | grep -E 'cuda|cublas|nccl|not found' || true; }"
step version 10 "$bundle/bin/fedrec" --version
step cuda_test 75 "$bundle/bin/cuda_test" --gtest_output="xml:$out/cuda_test.xml"
step nccl_test 45 "$bundle/bin/comm_test" --gtest_filter='NcclCollective.*' \
  --gtest_output="xml:$out/nccl_test.xml"
[[ -x $bundle/bin/nccl_allreduce_bench ]] &&
  step nccl_allreduce_bench 45 "$bundle/bin/nccl_allreduce_bench" \
    --benchmark_out="$out/nccl_allreduce_bench.json" --benchmark_out_format=json
gpus=$(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | wc -l)
if ((gpus >= 2)); then
  # One worker per GPU besides the coordinator's, CPU compute: only the sum moves.
  nccl_identity() {
    local data="$out/identity-synth.txt"
    local cfg=(--log-level warn train --config examples/synth100k-sasrec.toml
      --set data.path="$data" --set federation.rounds=3 --set federation.workers=$((gpus - 1))
      --set eval.every=0 --set checkpoint.every=0)
    "$bundle/bin/fedrec" data synth --users 2000 --items 500 --mean-length 20 --seed 7 \
      --out "$data" &&
      "$bundle/bin/fedrec" "${cfg[@]}" --set backend.comm=local --out "$out/identity-local" &&
      "$bundle/bin/fedrec" "${cfg[@]}" --set backend.comm=nccl --out "$out/identity-nccl" &&
      python3 - "$out" <<'PY'
import json, sys
a, b = (json.load(open(f"{sys.argv[1]}/identity-{k}/summary.json"))["model_sha256"] for k in ("local", "nccl"))
print("model_sha256 local", a, "nccl", b, "PASSED" if a == b else "FAILED")
sys.exit(a != b)
PY
  }
  export -f nccl_identity
  export bundle out gpus
  step nccl_identity 60 bash -c nccl_identity
else
  echo "| nccl_identity | skipped | 0 | needs two GPUs (the coordinator and a worker each hold one) |" >> "$summary"
fi
[[ -x $bundle/bin/sasrec_gpu_bench ]] &&
  step sasrec_gpu_bench 85 "$bundle/bin/sasrec_gpu_bench" --benchmark_min_time=0.3 \
    --benchmark_out="$out/sasrec_gpu_bench.json" --benchmark_out_format=json
[[ -x $bundle/bin/gru4rec_gpu_bench ]] &&
  step gru4rec_gpu_bench 25 "$bundle/bin/gru4rec_gpu_bench" \
    --benchmark_out="$out/gru4rec_gpu_bench.json" --benchmark_out_format=json
# The demo's federated SASRec, its clients on the GPU: 5 rounds of 1,000
# clients; client updates per second of the whole process (data included).
federated_cuda() {
  local rounds=5 cohort=1000 start end
  "$bundle/bin/fedrec" data synth --users 20000 --items 5000 --seed 1 \
    --out "$out/synth.txt" > /dev/null || return 1
  start=$(date +%s.%N)
  "$bundle/bin/fedrec" --log-level warn train --config examples/synth100k-sasrec.toml \
    --set data.path="$out/synth.txt" --set backend.compute=cuda \
    --set federation.rounds=$rounds --set federation.clients_per_round=$cohort \
    --set eval.every=0 --set eval.final_protocols=sampled --set checkpoint.every=0 \
    --out "$out/federated-cuda" > "$out/federated-cuda.json" || return 1
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" -v n=$((rounds * cohort)) \
    'BEGIN { printf "client_updates %d in %.1f s: %.0f per s end to end\n", n, b - a, n / (b - a) }'
}
export -f federated_cuda
export bundle out
step federated_cuda 40 bash -c federated_cuda
peer=../shared/bench/sasrec_torch.py
data=../shared/data/ml-100k/u.data
[[ ! -f $peer && -f shared/bench/sasrec_torch.py ]] && peer=shared/bench/sasrec_torch.py
[[ ! -f $data && -f shared/data/ml-100k/u.data ]] && data=shared/data/ml-100k/u.data
if [[ -f $peer && -f $data ]]; then
  # Central SASRec on the GPU against the PyTorch peer on the same GPU: raw
  # ML-100K, the paper's configuration (maxlen 200), the same epochs.
  sasrec_cuda_vs_torch() {
    local epochs=10
    "$bundle/bin/fedrec" --log-level warn train --config examples/ml100k-sasrec-central.toml \
      --set data.path="$data" --set data.min_count=0 --set train.epochs=$epochs \
      --set eval.every=0 --set checkpoint.every=0 --set backend.compute=cuda \
      --out "$out/sasrec-cuda" > "$out/sasrec-cuda.json" &&
      python3 "$peer" --data "$data" --epochs $epochs --device cuda | tail -n 1 \
        > "$out/sasrec-torch.json" &&
      python3 - "$out" <<'PY'
import json, sys
f = json.load(open(f"{sys.argv[1]}/sasrec-cuda.json"))
t = json.load(open(f"{sys.argv[1]}/sasrec-torch.json"))
a, b = f["sequences_per_second_median"], t["train_seqs_per_s"]
print(f"seqs_per_s fedrec cuda {a:.0f}, PyTorch cuda {b:.0f}, ratio {a / b:.2f}x; "
      f"test HR@10 sampled {f['test_at_best']['sampled']['HR@10']:.4f} vs {t['test_hr@10']:.4f}")
PY
  }
  export -f sasrec_cuda_vs_torch
  export bundle out data peer
  step sasrec_cuda_vs_torch 150 bash -c sasrec_cuda_vs_torch
else
  echo "| sasrec_cuda_vs_torch | skipped | 0 | $peer or $data not on this machine |" >> "$summary"
fi

if [[ -f $data ]]; then
  # Central GRU4Rec, the modern recipe (sampled softmax over 256 shared
  # negatives), on the GPU and on this machine's CPU: the same epochs,
  # sequences per second and test metrics side by side.
  gru4rec_cuda_vs_cpu() {
    local epochs=3 compute
    for compute in cuda cpu; do
      "$bundle/bin/fedrec" --log-level warn train --config examples/ml100k-gru4rec-modern.toml \
        --set data.path="$data" --set train.epochs=$epochs --set train.patience=0 \
        --set eval.every=0 --set checkpoint.every=0 --set backend.compute=$compute \
        --out "$out/gru4rec-$compute" > "$out/gru4rec-$compute.json" || return 1
    done
    python3 - "$out" <<'PY'
import json, sys
g = json.load(open(f"{sys.argv[1]}/gru4rec-cuda.json"))
c = json.load(open(f"{sys.argv[1]}/gru4rec-cpu.json"))
a, b = g["sequences_per_second_median"], c["sequences_per_second_median"]
print(f"seqs_per_s gru4rec cuda {a:.0f}, cpu {b:.0f}, ratio {a / b:.2f}x; test NDCG@10 full "
      f"{g['test_at_best']['full']['NDCG@10']:.4f} vs {c['test_at_best']['full']['NDCG@10']:.4f}")
PY
  }
  export -f gru4rec_cuda_vs_cpu
  export bundle out data
  step gru4rec_cuda_vs_cpu 45 bash -c gru4rec_cuda_vs_cpu
fi

cat "$summary"
exit "$failed"
