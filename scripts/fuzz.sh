#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang, ASan+UBSan) in build-fuzz/
# and runs each for SECONDS (default 30) over its checked-in corpus
# tests/fuzz/corpus/<name>/ (read only; new inputs go to a scratch corpus),
# then prints a table. Exits 1 if any target crashed (its input is kept in
# the scratch directory and named in the output).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   e.g. scripts/fuzz.sh 60 reader config
#   scripts/fuzz.sh --seeds                 rewrite the seed corpus from the targets'
#                                           own writers (then review and commit)
#   FEDREC_FUZZ_BUILD_DIR   build directory (default build-fuzz)
#   FEDREC_FUZZ_SCRATCH     where new corpus entries and crashes go
#                           (default $TMPDIR/fedrec-fuzz)
#   FEDREC_FUZZ_PARALLEL    targets run at once, one core each (default 1)
#   FEDREC_JOBS             build jobs (default nproc)
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${FEDREC_FUZZ_BUILD_DIR:-build-fuzz}
scratch=${FEDREC_FUZZ_SCRATCH:-${TMPDIR:-/tmp}/fedrec-fuzz}
parallel=${FEDREC_FUZZ_PARALLEL:-1}
jobs=${FEDREC_JOBS:-$(nproc)}

write_seeds=0
if [[ "${1:-}" == "--seeds" ]]; then
  write_seeds=1
  shift
fi
seconds=${1:-30}
[[ $# -gt 0 ]] && shift
# (libFuzzer reads -max_total_time=0 as "no limit".)
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: SECONDS must be a whole number >= 1, not '$seconds'" >&2
  exit 2
fi

scripts/setup.sh
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  # -O1 with line tables: the usual fuzzing trade-off, and half the compile
  # time of -O2 -g.
  CC=clang CXX=clang++ cmake -S . -B "$build_dir" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DFEDREC_FUZZ=ON >&2
fi
build_start=$SECONDS
cmake --build "$build_dir" -j "$jobs" >&2
echo "fuzz.sh: build took $((SECONDS - build_start)) s" >&2

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for f in tests/fuzz/fuzz_*.cc; do
    n=$(basename "$f" .cc)
    targets+=("${n#fuzz_}")
  done
fi
for t in "${targets[@]}"; do
  if [[ ! -x "$build_dir/tests/fuzz/fuzz_$t" ]]; then
    echo "fuzz.sh: no target fuzz_$t" >&2
    exit 2
  fi
done

if [[ $write_seeds -eq 1 ]]; then
  for t in "${targets[@]}"; do
    mkdir -p "tests/fuzz/corpus/$t"
    FEDREC_FUZZ_WRITE_SEEDS="tests/fuzz/corpus/$t" "$build_dir/tests/fuzz/fuzz_$t"
  done
  exit 0
fi

# The sanitizers' reports end the run (libFuzzer saves the input); leaks are
# reported too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
  local t=$1
  local dir="$scratch/$t"
  # The scratch corpus is kept between runs (it only grows coverage); the
  # crashes of an earlier run are not this run's.
  rm -rf "$dir/crashes"
  mkdir -p "$dir/corpus" "$dir/crashes"
  local dict=()
  [[ -f "tests/fuzz/$t.dict" ]] && dict=(-dict="tests/fuzz/$t.dict")
  # -jobs/-workers stay at their default (one process, one core).
  local rc=0
  "$build_dir/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$dir/crashes/" "${dict[@]}" \
    "$dir/corpus" "tests/fuzz/corpus/$t" >"$dir/log" 2>&1 || rc=$?
  echo "$rc" >"$dir/rc"
}

echo "fuzz.sh: ${#targets[@]} targets x ${seconds} s, $parallel at once; logs under $scratch" >&2
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [[ $running -ge $parallel ]]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true

# The table: figures from libFuzzer's final stats and its last status line.
failed=0
printf '%-18s %12s %9s %8s %9s %8s %7s\n' target executions exec/s seconds coverage features crashes
for t in "${targets[@]}"; do
  dir="$scratch/$t"
  log="$dir/log"
  rc=$(cat "$dir/rc" 2>/dev/null || echo 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1 || true)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1 || true)
  cov=$({ grep -o 'cov: [0-9]*' "$log" || true; } | tail -n 1 | cut -d' ' -f2)
  ft=$({ grep -o 'ft: [0-9]*' "$log" || true; } | tail -n 1 | cut -d' ' -f2)
  # New coverage features: the last count minus the count once the seed
  # corpus was loaded.
  ft0=$({ grep 'INITED' "$log" || true; } | { grep -o 'ft: [0-9]*' || true; } | head -n 1 |
    cut -d' ' -f2)
  crashes=$(find "$dir/crashes" -type f | wc -l)
  printf '%-18s %12s %9s %8s %9s %8s %7s\n' "$t" "${execs:-?}" "${rate:-?}" "$seconds" \
    "${cov:-?}" "${ft:-?}(+$(( ${ft:-0} - ${ft0:-0} )))" "$crashes"
  if [[ "$rc" != 0 || "$crashes" != 0 ]]; then
    failed=1
    echo "fuzz.sh: fuzz_$t failed (exit $rc); log $log, inputs in $dir/crashes:" >&2
    grep -E 'ERROR|invariant|SUMMARY|runtime error' "$log" | head -n 5 >&2 || true
  fi
done
exit $failed
