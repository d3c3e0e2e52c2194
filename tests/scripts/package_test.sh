#!/usr/bin/env bash
# `cpack -G DEB` of a built tree, "installed" by extracting it into a temp
# dir: its control fields, its files, and that the extracted binary, module
# and Slurm launcher work from there (no build-tree RUNPATH, nothing of the
# system touched).
#   package_test.sh BUILD_DIR VERSION WITH_MODULE(1|0)
set -euo pipefail

[[ $# -eq 3 ]] || { echo "usage: $0 BUILD_DIR VERSION WITH_MODULE" >&2; exit 2; }
build=$(cd "$1" && pwd)
version=$2
with_module=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

cpack -G DEB -B "$tmp/out" --config "$build/CPackConfig.cmake" >"$tmp/cpack.log" 2>&1 ||
  fail "cpack: $(cat "$tmp/cpack.log")"
deb="$tmp/out/fedrec_${version}_$(dpkg --print-architecture).deb"
[[ -f "$deb" ]] || fail "no $deb; cpack made: $(ls "$tmp/out")"
echo "ok: $(basename "$deb"), $(stat -c %s "$deb") bytes"

field() { dpkg-deb --field "$deb" "$1"; }
[[ $(field Package) == fedrec ]] || fail "Package: $(field Package)"
[[ $(field Version) == "$version" ]] || fail "Version: $(field Version)"
for f in Maintainer Section Description; do
  [[ -n $(field "$f") ]] || fail "no $f field"
done
depends=$(field Depends)
# From dpkg-shlibdeps (the libraries the binary links) and the explicit list.
needed=(libopenmpi3 libprotobuf libssl3 libstdc++6 python3)
[[ $with_module == 1 ]] && needed+=(python3-numpy)
for p in "${needed[@]}"; do
  grep -qF "$p" <<<"$depends" || fail "Depends lacks $p: $depends"
done
[[ $(field Recommends) == *python3-matplotlib* ]] || fail "Recommends: $(field Recommends)"
echo "ok: Depends: $depends"

dpkg-deb --contents "$deb" | awk '{print $6}' >"$tmp/contents"
want=(./usr/bin/fedrec
  ./usr/share/doc/fedrec/README.md
  ./usr/share/doc/fedrec/docs/ARCHITECTURE.md
  ./usr/share/doc/fedrec/docs/img/demo-report.png
  ./usr/share/doc/fedrec/examples/ml100k-sasrec.toml
  ./usr/share/doc/fedrec/examples/python_quickstart.py
  ./usr/share/fedrec/scripts/plot_run.py
  ./usr/share/fedrec/scripts/plot_sweep.py
  ./usr/share/fedrec/scripts/slurm/launch.sh
  ./usr/share/fedrec/scripts/slurm/fedrec.sbatch
  ./usr/share/fedrec/scripts/slurm/README.md)
[[ $with_module == 1 ]] && want+=(./usr/lib/python3/dist-packages/fedrec/__init__.py
  ./usr/lib/python3/dist-packages/fedrec/privacy.py)
for f in "${want[@]}"; do
  grep -qxF "$f" "$tmp/contents" || fail "the package lacks $f"
done
if [[ $with_module == 1 ]]; then
  grep -qE '^\./usr/lib/python3/dist-packages/fedrec/_fedrec\..*\.so$' "$tmp/contents" ||
    fail "the package lacks the extension _fedrec*.so"
fi
outside=$(grep -v '^\./usr/' "$tmp/contents" | grep -vx './' || true)
[[ -z "$outside" ]] || fail "files outside /usr: $outside"
echo "ok: $(grep -vc '/$' "$tmp/contents") files under /usr"

root="$tmp/root"
dpkg-deb -x "$deb" "$root"
for elf in "$root/usr/bin/fedrec" "$root"/usr/lib/python3/dist-packages/fedrec/_fedrec*.so; do
  [[ -e "$elf" ]] || continue
  if readelf -d "$elf" | grep -qE 'RPATH|RUNPATH'; then
    fail "$elf keeps a run path: $(readelf -d "$elf" | grep -E 'RPATH|RUNPATH')"
  fi
  if ldd "$elf" | grep -q 'not found'; then fail "$elf: $(ldd "$elf" | grep 'not found')"; fi
done
got=$("$root/usr/bin/fedrec" --version)
[[ $got == "fedrec $version (ISA "*")" ]] || fail "--version: $got"
echo "ok: extracted usr/bin/fedrec --version: $got"

if [[ $with_module == 1 ]]; then
  python=$(cat "$build/python/python_executable.txt")
  got=$(cd "$tmp" && PYTHONPATH="$root/usr/lib/python3/dist-packages" "$python" -c '
import sys, fedrec
assert fedrec.__file__.startswith(sys.argv[1]), fedrec.__file__
print(fedrec.privacy.epsilon(q=256/60000, sigma=1.1, steps=14063, delta=1e-5))' "$root")
  "$python" -c 'import sys; assert abs(float(sys.argv[1]) - 2.5967) < 1e-4, sys.argv[1]' "$got" ||
    fail "epsilon from the extracted module: $got, want 2.5967"
  echo "ok: the extracted module's epsilon: $got"
fi

# The installed launcher finds the installed binary beside it.
echo "seed = 1" >"$tmp/c.toml"
got=$(env PATH=/usr/bin:/bin FEDREC_RANKS=3 FEDREC_DRY_RUN=1 \
  "$root/usr/share/fedrec/scripts/slurm/launch.sh" --config "$tmp/c.toml" --out "$tmp/run")
[[ $got == *" $(realpath "$root/usr/bin/fedrec") train "* ]] || fail "installed launch.sh: $got"
echo "ok: installed launch.sh runs $root/usr/bin/fedrec"
