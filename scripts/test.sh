#!/usr/bin/env bash
# The test command (README): installs dependencies, builds, runs ctest.
#   scripts/test.sh                              every label: unit, mpi, slow
#   FEDREC_TEST_LABELS=unit scripts/test.sh      one label (a ctest -L regex)
#   FEDREC_SANITIZE=address,undefined scripts/test.sh   ASan+UBSan build in build-san/
# Other variables: see scripts/build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=$(scripts/build.sh | tail -n 1)
jobs=${FEDREC_JOBS:-$(nproc)}

# Open MPI refuses to run as root (CI containers) without these.
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
if [[ -n "${FEDREC_SANITIZE:-}" ]]; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
# Tests never read the user's dataset cache.
export FEDREC_CACHE_DIR=${FEDREC_CACHE_DIR:-$(mktemp -d)}

label_args=()
[[ -n "${FEDREC_TEST_LABELS:-}" ]] && label_args=(-L "$FEDREC_TEST_LABELS")
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" "${label_args[@]}"
