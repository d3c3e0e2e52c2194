#!/usr/bin/env bash
# Prepares gpu-bundle/ (git-ignored) for a GPU check on a lent device
# machine (README "GPU checks"): the programs scripts/gpu-check.sh runs and
# the shared libraries they need that such a machine lacks.
#
# The device machine has its own CUDA toolkit (or PyTorch's bundled nvidia
# libraries), a newer glibc and none of Debian's libraries (Open MPI,
# Protobuf, absl, spdlog, toml++, OpenSSL...). So the bundle carries every
# library ldd resolves here EXCEPT glibc's own and the CUDA libraries
# (libcuda, libcudart, libcublas, libcublasLt, libnccl, libcurand), which
# gpu-check.sh finds there. Debug info is stripped to stay within the carry
# limit (64 MiB by default).
#
#   scripts/gpu-bundle.sh            build (CUDA on) and bundle
#   scripts/gpu-bundle.sh --verify   check an existing bundle only
# Variables: FEDREC_BUILD_DIR (default build), FEDREC_GPU_BUNDLE
# (default gpu-bundle), FEDREC_GPU_BUNDLE_MIB (default 64).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${FEDREC_BUILD_DIR:-build}
bundle=${FEDREC_GPU_BUNDLE:-gpu-bundle}
limit_mib=${FEDREC_GPU_BUNDLE_MIB:-64}

# Programs a GPU check runs, relative to the build directory; the first three
# are required, the benchmarks are bundled when they were built.
required=(apps/fedrec tests/cuda/cuda_test tests/comm/comm_test)
optional=(bench/sasrec_bench bench/full_ranking_bench bench/client_step_bench
  bench/nccl_allreduce_bench bench/sasrec_gpu_bench bench/gru4rec_gpu_bench)
# The CUDA plugin fedrec loads for backend.compute = cuda, next to fedrec.
plugins=(apps/libfedrec_cuda_plugin.so)

# Libraries the device machine provides: glibc's, and CUDA's.
provided_re='^(linux-vdso|ld-linux-x86-64|libc|libm|libpthread|libdl|librt|libresolv|libutil|libcuda|libcudart|libcublas|libcublasLt|libnccl|libcurand|libnvidia-[a-z-]*)\.so'

verify() {
  local status=0 bin lib name
  for bin in "$bundle"/bin/*; do
    # Every NEEDED entry must be bundled or provided by the device machine.
    while read -r name; do
      if [[ -f "$bundle/lib/$name" ]] || [[ "$name" =~ $provided_re ]]; then continue; fi
      echo "gpu-bundle: $(basename "$bin") needs $name, which is neither bundled nor provided" >&2
      status=1
    done < <(objdump -p "$bin" | awk '/NEEDED/ {print $2}')
  done
  for lib in "$bundle"/lib/*; do
    while read -r name; do
      if [[ -f "$bundle/lib/$name" ]] || [[ "$name" =~ $provided_re ]]; then continue; fi
      echo "gpu-bundle: $(basename "$lib") needs $name, which is neither bundled nor provided" >&2
      status=1
    done < <(objdump -p "$lib" | awk '/NEEDED/ {print $2}')
  done
  # Resolution as the device will see it: bundled libraries first, CUDA's
  # from this toolkit standing in for the device's.
  for bin in "$bundle"/bin/*; do
    if LD_LIBRARY_PATH="$bundle/lib:/usr/local/cuda/lib64" ldd "$bin" | grep -q "not found"; then
      echo "gpu-bundle: $(basename "$bin") has unresolved libraries:" >&2
      LD_LIBRARY_PATH="$bundle/lib:/usr/local/cuda/lib64" ldd "$bin" | grep "not found" >&2
      status=1
    fi
  done
  local size_mib
  size_mib=$(du -sm "$bundle" | cut -f1)
  if ((size_mib > limit_mib)); then
    echo "gpu-bundle: $bundle is $size_mib MiB, over the $limit_mib MiB carry limit; largest:" >&2
    du -a "$bundle" | sort -rn | head -n 6 >&2
    status=1
  fi
  ((status == 0)) && echo "gpu-bundle: $bundle verified: $size_mib MiB, $(ls "$bundle/bin" | wc -l) programs, $(ls "$bundle/lib" | wc -l) libraries"
  return "$status"
}

if [[ "${1:-}" == "--verify" ]]; then
  verify
  exit $?
fi

[[ -x /usr/local/cuda/bin/nvcc ]] || command -v nvcc >/dev/null ||
  { echo "gpu-bundle: no CUDA toolkit (nvcc) here; a GPU bundle needs FEDREC_CUDA=ON" >&2; exit 2; }
FEDREC_BUILD_DIR=$build_dir FEDREC_CUDA=ON scripts/build.sh > /dev/null

rm -rf "$bundle"
mkdir -p "$bundle/bin" "$bundle/lib"
programs=()
for p in "${required[@]}"; do
  [[ -x "$build_dir/$p" ]] || { echo "gpu-bundle: $build_dir/$p was not built" >&2; exit 2; }
  programs+=("$p")
done
for p in "${optional[@]}"; do [[ -x "$build_dir/$p" ]] && programs+=("$p"); done
for p in "${plugins[@]}"; do
  [[ -f "$build_dir/$p" ]] || { echo "gpu-bundle: $build_dir/$p was not built" >&2; exit 2; }
  programs+=("$p")
done

for p in "${programs[@]}"; do
  objcopy --strip-debug "$build_dir/$p" "$bundle/bin/$(basename "$p")"
  while read -r name path; do
    [[ "$name" =~ $provided_re ]] && continue
    [[ -f "$bundle/lib/$name" ]] && continue
    # Keep the soname as the file name: the loader looks it up by NEEDED.
    objcopy --strip-debug "$path" "$bundle/lib/$name"
  done < <(ldd "$build_dir/$p" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}')
done

{
  echo "# gpu-bundle manifest: built $(date -u +%FT%TZ) from $(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes')"
  echo "# $("$bundle/bin/fedrec" --version 2>/dev/null || echo 'fedrec --version failed here')"
  (cd "$bundle" && find bin lib -type f -printf '%s %p\n' | sort -k2)
} > "$bundle/MANIFEST"
verify
