#!/usr/bin/env bash
# The test command (README): installs dependencies, builds, runs ctest, then
# the Python package's pytest suite (label "python").
#   scripts/test.sh                              every label: unit, mpi, slow, python
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

# The Python package (python/tests): against the binary just built, when the
# extension was built (pybind11 found; not in sanitizer builds, whose
# instrumented module an ordinary interpreter cannot load).
python_skip=""
module=$(ls "$build_dir"/python/fedrec/_fedrec*.so 2>/dev/null | head -n 1 || true)
if [[ -n "${FEDREC_SANITIZE:-}" ]]; then
  python_skip="sanitizer build"
elif [[ -z "$module" ]]; then
  python_skip="the extension was not built (pybind11 or the Python headers missing)"
elif [[ -n "${FEDREC_TEST_LABELS:-}" && ! python =~ ${FEDREC_TEST_LABELS} ]]; then
  python_skip="FEDREC_TEST_LABELS=$FEDREC_TEST_LABELS does not select 'python'"
fi
if [[ -n "$python_skip" ]]; then
  echo "python tests: skipped ($python_skip)"
else
  build_abs=$(cd "$build_dir" && pwd)
  python=$(cat "$build_abs/python/python_executable.txt")
  # Exit code 5 (no tests collected) is a failure here: the tests were meant to run.
  PYTHONPATH="$build_abs/python${PYTHONPATH:+:$PYTHONPATH}" FEDREC_BIN="$build_abs/apps/fedrec" \
    "$python" -m pytest -q -p no:cacheprovider python/tests
fi
