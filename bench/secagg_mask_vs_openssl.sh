#!/usr/bin/env bash
# Mask expansion throughput of fedrec's secure aggregation against OpenSSL's
# own AES-128-CTR speed on the same machine and core (single thread, CPU time
# in both: `openssl speed` counts user time by default, Google Benchmark's
# bytes_per_second uses CPU time).
#   bench/secagg_mask_vs_openssl.sh [build-dir]     (default: build)
set -euo pipefail
build=${1:-build}
bench="$build/bench/secagg_bench"
[[ -x "$bench" ]] || { echo "build $bench first (ninja -C $build secagg_bench)" >&2; exit 1; }

# OpenSSL: 16 KiB blocks (the block size MaskExpander uses), 3 s.
ossl_kBps=$(openssl speed -evp aes-128-ctr -seconds 3 -bytes 16384 2>/dev/null |
  awk '/^AES-128-CTR|^aes-128-ctr/ {v=$NF; sub(/k$/, "", v); print v}')
ossl_GBps=$(awk -v k="$ossl_kBps" 'BEGIN {printf "%.2f", k * 1000 / 1e9}')

json=$(mktemp)
trap 'rm -f "$json"' EXIT
"$bench" --benchmark_filter='BM_Mask' --benchmark_min_time=1 --benchmark_format=json >"$json" 2>/dev/null

echo "OpenSSL $(openssl version | awk '{print $2}'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), single thread"
printf '%-34s %10s %10s\n' "what" "GB/s" "vs openssl"
printf '%-34s %10s %10s\n' "openssl speed -evp aes-128-ctr 16K" "$ossl_GBps" "100%"
python3 - "$json" "$ossl_GBps" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
ref = float(sys.argv[2])
for b in data["benchmarks"]:
    gbps = b["bytes_per_second"] / 1e9
    print(f'{b["name"]:<34} {gbps:10.2f} {100 * gbps / ref:9.0f}%')
PY
