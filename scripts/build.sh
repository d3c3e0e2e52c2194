#!/usr/bin/env bash
# Installs dependencies (scripts/setup.sh), configures and builds.
#   FEDREC_BUILD_DIR   build directory (default build, or build-san with sanitizers)
#   FEDREC_SANITIZE    e.g. address,undefined (Debug build)
#   FEDREC_BUILD_TYPE  default RelWithDebInfo
#   FEDREC_BUILD_BENCH ON|OFF (default ON)
#   FEDREC_DEBUG_INFO  full|lines (default full; lines = -g1, a faster build)
#   FEDREC_CUDA        AUTO|ON|OFF (default AUTO)
#   FEDREC_JOBS        parallel jobs (default nproc)
#   FEDREC_ISA         auto|baseline|x86-64-v3|native (default auto: x86-64-v3
#                      when this machine has AVX2 and FMA, else baseline)
# Prints the build directory on its last line.
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

# ccache (used when installed) shares hits across checkouts and worktrees.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="$build_type" \
    -DFEDREC_SANITIZE="$sanitize" -DFEDREC_BUILD_BENCH="${FEDREC_BUILD_BENCH:-ON}" \
    -DFEDREC_CUDA="${FEDREC_CUDA:-AUTO}" -DFEDREC_ISA="${FEDREC_ISA:-auto}" \
    -DFEDREC_DEBUG_INFO="${FEDREC_DEBUG_INFO:-full}" >&2
elif [[ -n "${FEDREC_ISA:-}" ]]; then
  cmake "$build_dir" -DFEDREC_ISA="$FEDREC_ISA" >&2
fi
cmake --build "$build_dir" -j "$jobs" >&2
echo "$build_dir"
