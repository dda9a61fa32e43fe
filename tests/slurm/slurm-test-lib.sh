# shellcheck shell=bash
# Shared by the tests in tests/slurm: prerequisites (skipped with 77 when one
# is missing) and a throwaway single-node Slurm (jobs/local-slurm.sh) that is
# stopped again at exit. Sourced; the caller has `set -euo pipefail`.
#
#   slurm_test_prerequisites TWINFLOW_BINARY SCRATCH_DIR
#       skips unless root, slurm-wlm, munge and a Python that imports h5py are
#       there; fails if the binary is missing. Sets python, binary and scratch
#       (absolute; SCRATCH_DIR is created) and state (SCRATCH_DIR/slurm-state),
#       and unsets the SLURM_*/SBATCH_*/SRUN_*/SALLOC_* variables of a
#       surrounding Slurm.
#   slurm_test_start
#       stops and removes whatever an aborted earlier run left in $state,
#       starts the local Slurm there, exports SLURM_CONF and sets t0 (the
#       SECONDS at start). At exit the daemons are stopped and a background
#       command whose PID the caller put into `waiter` is terminated.

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
local_slurm=$repo/jobs/local-slurm.sh

skip() {
  echo "SKIP: $*"
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# shellcheck disable=SC2034 # python, binary, scratch are for the caller
slurm_test_prerequisites() {
  local b py var
  [[ $(id -u) == 0 ]] || skip "the local Slurm runs as root; not root"
  for b in slurmctld slurmd munged sbatch sinfo srun squeue; do
    command -v "$b" >/dev/null 2>&1 || [[ -x /usr/sbin/$b ]] ||
      skip "$b not found (Debian packages slurm-wlm munge)"
  done
  python=
  for py in /usr/bin/python3 python3 python; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import h5py' >/dev/null 2>&1; then
      python=$(command -v "$py")
      break
    fi
  done
  [[ -n $python ]] || skip "no Python interpreter that imports h5py (Debian package python3-h5py)"

  [[ -x $1 && -f $1 ]] || fail "twinflow binary '$1' not found or not executable"
  binary=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
  mkdir -p "$2"
  scratch=$(cd "$2" && pwd -P)
  state=$scratch/slurm-state

  # Keep a surrounding Slurm (if this runs inside a job on a cluster) from
  # leaking into the local one: its SLURM_*/SBATCH_*/SRUN_* variables would
  # override our partition, account, task counts and configuration.
  while IFS= read -r var; do
    unset "$var"
  done < <(compgen -e | grep -E '^(SLURM|SBATCH|SRUN|SALLOC)_' || true)
}

slurm_test_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n ${waiter:-} ]] && kill -0 "$waiter" 2>/dev/null; then
    kill -TERM "$waiter" 2>/dev/null || true
    wait "$waiter" 2>/dev/null || true
  fi
  bash "$local_slurm" stop "$state" || rc=1
  exit "$rc"
}

slurm_test_start() {
  local export_line
  if [[ -e $state ]]; then
    # Left over from an aborted run: stop what that run started, then start afresh.
    bash "$local_slurm" stop "$state" || true
    rm -rf -- "$state"
  fi
  waiter=
  trap slurm_test_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  t0=$SECONDS
  export_line=$(timeout 90 bash "$local_slurm" start "$state") || fail "local Slurm did not start (state in $state)"
  [[ $export_line == "export SLURM_CONF="* ]] || fail "unexpected output from local-slurm.sh start: $export_line"
  eval "$export_line"
  echo "local Slurm up in $((SECONDS - t0)) s ($SLURM_CONF)"
}
