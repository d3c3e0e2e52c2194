#!/usr/bin/env bash
# scripts/slurm/launch.sh, the command line fedrec.sbatch runs.
#   slurm_launch_test.sh refusals   bad input: exit 2 and one line; the srun
#                                   and mpirun command lines (dry run)
#   slurm_launch_test.sh mpirun     a run through the launcher under mpirun on
#                                   localhost ends with the threads run's model,
#                                   and --resume through it does too
# Needs FEDREC_BIN (ctest sets it).
set -euo pipefail

launch=$(cd "$(dirname "$0")/../../scripts/slurm" && pwd)/launch.sh
: "${FEDREC_BIN:?set FEDREC_BIN to the fedrec binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
tmp=$(pwd -P)  # as launch.sh resolves paths
export FEDREC_CACHE_DIR="$tmp/cache"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# expect_refusal NEEDLE [VAR=value ...] -- ARGS: launch.sh exits 2 with one
# stderr line that contains NEEDLE, and prints nothing on stdout.
expect_refusal() {
  local needle=$1 vars=()
  shift
  while [[ $1 != -- ]]; do vars+=("$1"); shift; done
  shift
  local rc=0
  env "${vars[@]}" "$launch" "$@" >out.txt 2>err.txt || rc=$?
  [[ $rc -eq 2 ]] || fail "$needle: exit $rc, want 2 ($(cat err.txt))"
  [[ $(wc -l <err.txt) -eq 1 ]] || fail "$needle: want one stderr line, got: $(cat err.txt)"
  grep -qF -- "$needle" err.txt || fail "want '$needle' in: $(cat err.txt)"
  [[ ! -s out.txt ]] || fail "$needle: stdout not empty: $(cat out.txt)"
  echo "ok: refused: $(cat err.txt)"
}

refusals() {
  echo "seed = 1" >c.toml
  printf 'localhost slots=3\n' >hosts
  local base=(FEDREC_BIN="$FEDREC_BIN" FEDREC_RANKS=3)
  expect_refusal "--config missing.toml: no such readable file" "${base[@]}" -- \
    --config missing.toml --out run
  expect_refusal "--config FILE is required" "${base[@]}" -- --out run
  expect_refusal "--out RUN_DIR is required" "${base[@]}" -- --config c.toml
  expect_refusal "not a run directory (no config.toml)" "${base[@]}" -- --resume --out run
  expect_refusal "FEDREC_HOSTFILE=nohosts: no such readable file" "${base[@]}" \
    FEDREC_LAUNCHER=mpirun FEDREC_HOSTFILE=nohosts -- --config c.toml --out run
  expect_refusal "FEDREC_BIN=$tmp/nofedrec: not an executable file" "${base[@]}" \
    FEDREC_BIN="$tmp/nofedrec" -- --config c.toml --out run
  expect_refusal "FEDREC_RANKS=1: need an integer >= 2" "${base[@]}" FEDREC_RANKS=1 -- \
    --config c.toml --out run
  expect_refusal "FEDREC_LAUNCHER=aprun: use srun or mpirun" "${base[@]}" FEDREC_LAUNCHER=aprun -- \
    --config c.toml --out run
  expect_refusal "FEDREC_RANKS is not set" FEDREC_BIN="$FEDREC_BIN" SLURM_NTASKS= -- \
    --config c.toml --out run
  [[ ! -e run ]] || fail "a refusal created the run directory"

  # The srun command line, as inside an allocation (ranks from SLURM_NTASKS).
  local got want
  got=$(env FEDREC_BIN="$FEDREC_BIN" SLURM_NTASKS=6 FEDREC_DRY_RUN=1 "$launch" \
    --config c.toml --out run --log-level warn --set federation.rounds=2)
  want="srun --mpi=pmix -n 6 $(realpath "$FEDREC_BIN") --log-level warn train --config $tmp/c.toml --out $tmp/run --set federation.rounds=2"
  [[ "$got" == "$want" ]] || fail "srun: got '$got', want '$want'"
  echo "ok: $got"

  # mpirun in an allocation: the hostfile from scontrol, one slot per task.
  mkdir bin
  printf '#!/bin/sh\n[ "$*" = "show hostnames n[1-2]" ] && printf "n1\\nn2\\n"\n' >bin/scontrol
  chmod +x bin/scontrol
  got=$(env PATH="$tmp/bin:$PATH" FEDREC_BIN="$FEDREC_BIN" FEDREC_LAUNCHER=mpirun FEDREC_DRY_RUN=1 \
    SLURM_NTASKS=6 SLURM_JOB_NODELIST='n[1-2]' SLURM_TASKS_PER_NODE='3(x2)' "$launch" \
    --config c.toml --out run)
  [[ "$(grep '^# hostfile' <<<"$got")" == $'# hostfile: n1 slots=3\n# hostfile: n2 slots=3' ]] ||
    fail "generated hostfile: $got"
  grep -qE "^mpirun -np 6 --hostfile [^ ]+ $(realpath "$FEDREC_BIN") train" <<<"$got" ||
    fail "mpirun: $got"
  echo "ok: $(tail -n 1 <<<"$got")"
}

sha() { python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["model_sha256"], s["backend"], s["workers"])' "$1"; }

mpirun_run() {
  # MF-BPR: its user rows are local parameters, so the worker ranks also
  # write their shards into the run directory.
  "$FEDREC_BIN" data synth --users 300 --items 120 --seed 5 --out s.txt >/dev/null
  cat >c.toml <<EOF
seed = 3
[data]
path = '$tmp/s.txt'
max_len = 20
[model]
type = 'mf_bpr'
dim = 8
[train]
local_lr = 0.1
[federation]
rounds = 6
sampling_rate = 0.2
[eval]
every = 3
[checkpoint]
every = 2
EOF
  "$FEDREC_BIN" --log-level off train --config c.toml --set federation.workers=2 --out threads >/dev/null
  read -r want backend workers < <(sha threads/summary.json)
  [[ $backend == local && $workers == 2 ]] || fail "threads run: backend $backend, workers $workers"

  printf 'localhost slots=3\n' >hosts
  export FEDREC_LAUNCHER=mpirun FEDREC_RANKS=3 FEDREC_HOSTFILE=hosts FEDREC_MPIRUN_ARGS=--oversubscribe
  "$launch" --config c.toml --out mpi --log-level warn >/dev/null
  read -r got backend workers < <(sha mpi/summary.json)
  [[ $backend == mpi && $workers == 2 ]] || fail "launcher run: backend $backend, workers $workers"
  [[ $got == "$want" ]] || fail "model_sha256 under mpirun $got, threads $want"
  ls mpi/checkpoints/*.w2-of-2.local >/dev/null || fail "no shard of worker 2 in the run directory"
  echo "ok: mpirun through launch.sh: model_sha256 $got as the threads run"

  # A job stopped after round 4's checkpoint, resumed through the launcher.
  rm mpi/checkpoints/ckpt-00000006.* mpi/summary.json
  "$launch" --resume --out mpi --log-level warn >/dev/null
  read -r got _ _ < <(sha mpi/summary.json)
  [[ $got == "$want" ]] || fail "resumed model_sha256 $got, want $want"
  echo "ok: --resume through launch.sh: model_sha256 $got"
}

case "${1:-}" in
  refusals) refusals ;;
  mpirun) mpirun_run ;;
  *) fail "usage: $0 refusals|mpirun" ;;
esac
