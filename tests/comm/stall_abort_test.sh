#!/usr/bin/env bash
# A stalled rank ends an MPI job (comm/launch.cc): runs stall_driver under
# `mpirun -np 3`, where one rank SIGSTOPs itself, and checks that mpirun
# exits non-zero within the deadline, the grace and a few seconds, with the
# expected "fedrec: error:" line on stderr.
#   stall_abort_test.sh MPIEXEC DRIVER worker|inside|rank0
set -uo pipefail
mpiexec=$1 driver=$2 mode=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
err=$(mktemp)
trap 'rm -f "$err"' EXIT

args=()
[[ $mode == worker ]] || args=("$mode")
start=$(date +%s%N)
timeout -k 5 60 "$mpiexec" --oversubscribe -np 3 "$driver" "${args[@]}" >/dev/null 2>"$err"
rc=$?
seconds=$((($(date +%s%N) - start) / 1000000000))
cat "$err" >&2
[[ $rc -ne 0 ]] || fail "mpirun exited 0"
[[ $rc -ne 124 && $rc -ne 137 ]] || fail "the job did not end by itself (killed after 60 s)"
grep -q "stall_driver: RunRanks returned" "$err" && fail "a rank returned instead of ending the job"
case $mode in
  worker)
    # Rank 0 gives up after 1 s, the others only after 6 s (slack for a busy machine).
    ((seconds <= 8)) || fail "took ${seconds} s"
    grep -qx "fedrec: error: rank 2 did not reach the barrier within 1 s (stalled or stopped)" "$err" ||
      fail "no line naming rank 2"
    [[ $(grep -c "^fedrec: error:" "$err") -eq 1 ]] || fail "more than one fedrec line"
    ;;
  inside)
    # 1 s, then up to 1 s for the answers to rank 0's pings.
    ((seconds <= 9)) || fail "took ${seconds} s"
    grep -qx "fedrec: error: rank 2 stopped inside the allreduce: all ranks reached it, it did not complete within 1 s, and rank 2 does not answer (stalled or stopped)" "$err" ||
      fail "no line naming rank 2"
    [[ $(grep -c "^fedrec: error:" "$err") -eq 1 ]] || fail "more than one fedrec line"
    ;;
  rank0)
    ((seconds <= 15)) || fail "took ${seconds} s"
    grep -qE "^fedrec: error: rank [12] waited 6 s for the other ranks in the barrier \(rank 0, which names the ranks that did not arrive, may itself have stalled\)$" "$err" ||
      fail "no worker line"
    ;;
  *) fail "usage: $0 MPIEXEC DRIVER worker|inside|rank0" ;;
esac
echo "ok: $mode stall ended the job in ${seconds} s (exit $rc)"
