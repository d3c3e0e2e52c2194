#!/usr/bin/env bash
# The test command: installs dependencies, configures, builds, runs ctest.
#   scripts/test.sh                       all labels (unit, mpi, slow)
#   FEDREC_TEST_LABELS=unit scripts/test.sh   only one label (ctest -L regex)
#   FEDREC_SANITIZE=address,undefined scripts/test.sh   builds in build-san/
#   FEDREC_BUILD_DIR=dir                  override the build directory
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

sanitize=${FEDREC_SANITIZE:-}
if [[ -n "$sanitize" ]]; then
  build_dir=${FEDREC_BUILD_DIR:-build-san}
  build_type=Debug
else
  build_dir=${FEDREC_BUILD_DIR:-build}
  build_type=${FEDREC_BUILD_TYPE:-RelWithDebInfo}
fi
jobs=${FEDREC_JOBS:-$(nproc)}

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="$build_type" \
    -DFEDREC_SANITIZE="$sanitize" -DFEDREC_BUILD_BENCH="${FEDREC_BUILD_BENCH:-ON}" >/dev/null
fi
cmake --build "$build_dir" -j "$jobs"

# Running as root (CI containers): Open MPI refuses without these.
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
if [[ -n "$sanitize" ]]; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi

label_args=()
[[ -n "${FEDREC_TEST_LABELS:-}" ]] && label_args=(-L "$FEDREC_TEST_LABELS")
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" "${label_args[@]}"
