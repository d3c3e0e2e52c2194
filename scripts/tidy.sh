#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy) over fedrec's sources using build/compile_commands.json.
#   scripts/tidy.sh [FILE...]     default: every .cc under the rooms and apps/
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f build/compile_commands.json ]] || scripts/build.sh >/dev/null
files=("$@")
if [[ ${#files[@]} -eq 0 ]]; then
  mapfile -t files < <(git ls-files 'core/*.cc' 'data/*.cc' 'models/*.cc' 'coordinator/*.cc' \
    'apps/*.cc' 'proto/*.cc' 'privacy/*.cc')
fi
# GCC-only options (the vectoriser's cost model, -Wno-restrict) are errors to
# clang: a copy of the compilation database without them.
db=$(mktemp -d)
trap 'rm -rf "$db"' EXIT
sed -e 's/ -fvect-cost-model=[a-z-]*//g' -e 's/ -Wno-restrict//g' build/compile_commands.json > "$db/compile_commands.json"
clang-tidy -p "$db" --quiet "${files[@]}"
