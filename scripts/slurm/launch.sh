#!/usr/bin/env bash
# Starts `fedrec train` as an MPI job: rank 0 coordinates, ranks 1.. are the
# workers (ranks = workers + 1). fedrec.sbatch calls it inside an allocation;
# tests call it with mpirun on localhost, so both run the same command line.
#
#   launch.sh --config FILE --out RUN_DIR [--log-level L] [other `fedrec train` flags]
#   launch.sh --resume --out RUN_DIR
#
# Environment:
#   FEDREC_LAUNCHER     srun (default: `srun --mpi=pmix`) or mpirun
#   FEDREC_RANKS        total ranks (default $SLURM_NTASKS); at least 2
#   FEDREC_HOSTFILE     mpirun: an Open MPI hostfile ("node slots=N" lines);
#                       default inside Slurm: built from $SLURM_JOB_NODELIST
#   FEDREC_BIN          the fedrec binary (default: on PATH, else beside an
#                       installed copy of this script, else build/apps/fedrec)
#   FEDREC_SRUN_ARGS    extra srun arguments (word-split), e.g. "--cpu-bind=cores"
#   FEDREC_MPIRUN_ARGS  extra mpirun arguments (word-split), e.g. "--oversubscribe"
#   FEDREC_DRY_RUN=1    print the hostfile and command instead of running them
#
# Bad input (a missing config, binary, hostfile or launcher) ends with one
# line on stderr and exit code 2 before anything starts; otherwise the exit
# code is the launcher's (130 when fedrec stopped on SIGTERM with a checkpoint).
set -euo pipefail

die() {
  echo "launch.sh: error: $*" >&2
  exit 2
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

config="" out="" resume=0
global=() passthrough=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --config) [[ $# -ge 2 ]] || die "--config needs a file"; config=$2; shift 2 ;;
    --config=*) config=${1#--config=}; shift ;;
    --out) [[ $# -ge 2 ]] || die "--out needs a directory"; out=$2; shift 2 ;;
    --out=*) out=${1#--out=}; shift ;;
    --resume) resume=1; shift ;;
    # A global flag of fedrec: before the command.
    --log-level) [[ $# -ge 2 ]] || die "--log-level needs a level"; global+=("$1" "$2"); shift 2 ;;
    --log-level=*) global+=("$1"); shift ;;
    -h | --help) sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) passthrough+=("$1"); shift ;;
  esac
done

[[ -n "$out" ]] || die "--out RUN_DIR is required"
# Ranks on other machines resolve paths from their own working directory.
out=$(realpath -m -- "$out")
if [[ $resume -eq 1 ]]; then
  [[ -f "$out/config.toml" ]] || die "--resume: $out: not a run directory (no config.toml)"
else
  [[ -n "$config" ]] || die "--config FILE is required (or --resume a run)"
fi
if [[ -n "$config" ]]; then
  [[ -f "$config" && -r "$config" ]] || die "--config $config: no such readable file"
  config=$(realpath -- "$config")
fi

bin=${FEDREC_BIN:-}
if [[ -z "$bin" ]]; then
  # Installed: <prefix>/share/fedrec/scripts/slurm/ -> <prefix>/bin/fedrec.
  for candidate in "$(command -v fedrec || true)" "$here/../../../../bin/fedrec" \
    "$here/../../build/apps/fedrec"; do
    if [[ -n "$candidate" && -x "$candidate" ]]; then bin=$candidate; break; fi
  done
  [[ -n "$bin" ]] || die "no fedrec binary on PATH or beside this script; set FEDREC_BIN"
fi
[[ -f "$bin" && -x "$bin" ]] || die "FEDREC_BIN=$bin: not an executable file"
bin=$(realpath -- "$bin")

ranks=${FEDREC_RANKS:-${SLURM_NTASKS:-}}
[[ -n "$ranks" ]] || die "FEDREC_RANKS is not set (nor SLURM_NTASKS): give the total ranks, workers + 1"
[[ "$ranks" =~ ^[0-9]+$ && "$ranks" -ge 2 ]] ||
  die "FEDREC_RANKS=$ranks: need an integer >= 2 (rank 0 coordinates, ranks 1.. are workers)"

dry_run=${FEDREC_DRY_RUN:-0}
launcher=${FEDREC_LAUNCHER:-srun}
hostfile="" generated_hostfile=""
case "$launcher" in
  srun)
    read -r -a extra <<<"${FEDREC_SRUN_ARGS:-}"
    cmd=(srun --mpi=pmix -n "$ranks" "${extra[@]}")
    ;;
  mpirun)
    read -r -a extra <<<"${FEDREC_MPIRUN_ARGS:-}"
    if [[ -n "${FEDREC_HOSTFILE:-}" ]]; then
      [[ -f "$FEDREC_HOSTFILE" && -r "$FEDREC_HOSTFILE" ]] ||
        die "FEDREC_HOSTFILE=$FEDREC_HOSTFILE: no such readable file"
      hostfile=$(realpath -- "$FEDREC_HOSTFILE")
    elif [[ -n "${SLURM_JOB_NODELIST:-}" ]]; then
      command -v scontrol >/dev/null || die "scontrol not found: cannot list \$SLURM_JOB_NODELIST; set FEDREC_HOSTFILE"
      # The first node's count ("3(x2),2" -> 3) when --ntasks-per-node was not given.
      slots=${SLURM_NTASKS_PER_NODE:-${SLURM_TASKS_PER_NODE%%[(,]*}}
      [[ "$slots" =~ ^[0-9]+$ ]] || die "cannot tell the tasks per node (SLURM_NTASKS_PER_NODE); set FEDREC_HOSTFILE"
      generated_hostfile=$(mktemp "${TMPDIR:-/tmp}/fedrec-hosts.XXXXXX")
      trap 'rm -f "$generated_hostfile"' EXIT
      scontrol show hostnames "$SLURM_JOB_NODELIST" | sed "s/\$/ slots=$slots/" >"$generated_hostfile"
      [[ -s "$generated_hostfile" ]] || die "scontrol listed no hosts for SLURM_JOB_NODELIST=$SLURM_JOB_NODELIST"
      hostfile=$generated_hostfile
    fi
    cmd=(mpirun -np "$ranks")
    [[ -n "$hostfile" ]] && cmd+=(--hostfile "$hostfile")
    cmd+=("${extra[@]}")
    ;;
  *) die "FEDREC_LAUNCHER=$launcher: use srun or mpirun" ;;
esac
if [[ "$dry_run" != 1 ]]; then
  command -v "$launcher" >/dev/null || die "$launcher not found on PATH (FEDREC_LAUNCHER=$launcher)"
fi

cmd+=("$bin" "${global[@]}" train)
[[ -n "$config" ]] && cmd+=(--config "$config")
cmd+=(--out "$out")
[[ $resume -eq 1 ]] && cmd+=(--resume)
cmd+=("${passthrough[@]}")

if [[ "$dry_run" == 1 ]]; then
  [[ -n "$hostfile" ]] && sed 's/^/# hostfile: /' "$hostfile"
  printf '%q ' "${cmd[@]}" | sed 's/ $//'
  echo
  exit 0
fi
# Not exec: the generated hostfile is removed when the job ends.
status=0
"${cmd[@]}" || status=$?
exit "$status"
