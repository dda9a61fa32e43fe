# shellcheck shell=bash
# Shared by the tests in tests/slurm: prerequisites (skipped with 77 when one
# is missing) and a throwaway single-node Slurm (jobs/local-slurm.sh) that is
# stopped again at exit. Sourced; the caller has `set -euo pipefail`.
#
#   slurm_test_prerequisites TWINFLOW_BINARY SCRATCH_DIR
#       exits 2 with a usage line unless given exactly those two; skips unless root, slurm-wlm, munge and a Python that imports h5py are
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
  if [[ $# -ne 2 ]]; then
    echo "usage: $0 TWINFLOW_BINARY SCRATCH_DIR" >&2
    exit 2
  fi
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

# slurm_study_prerequisites WHO BINARY SCRATCH: slurm_test_prerequisites,
# and a skip (77) without scontrol or a Python with h5py, numpy and
# matplotlib (a study's collector needs them).
slurm_study_prerequisites() {
  local who=$1
  shift
  slurm_test_prerequisites "$@"
  # shellcheck source=SCRIPTDIR/../../jobs/job-lib.sh
  source "$repo/jobs/job-lib.sh"
  command -v scontrol >/dev/null 2>&1 || skip "scontrol not found (Debian package slurm-client)"
  twinflow_python "$who" >/dev/null 2>&1 ||
    skip "no Python with h5py, numpy and matplotlib (Debian packages python3-h5py python3-matplotlib)"
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

# study_workdir [VARIABLE ...]: a fresh $scratch/study as `study`, the binary
# exported as TWINFLOW, and TWINFLOW_OUTDIR and the VARIABLEs (the study's
# lists) unset, so that the launcher picks its own output directory.
study_workdir() {
  study=$scratch/study
  rm -rf -- "$study"
  mkdir -p "$study"
  export TWINFLOW=$binary
  unset TWINFLOW_OUTDIR "$@"
}

# study_rejects NAME VARIABLE VALUE WORD DIR: `jobs/NAME.sh check` with the
# environment variable VARIABLE=VALUE must exit 2 with one line on stderr
# that contains WORD (the bad entry, quoted) and nothing on stdout.
study_rejects() {
  local name=$1 variable=$2 value=$3 word=$4 dir=$5 status=0 lines
  env "$variable=$value" bash "$repo/jobs/$name.sh" check >"$dir/check.out" 2>"$dir/check.err" || status=$?
  ((status == 2)) || fail "$name.sh check with $variable='$value': exit status $status, expected 2"
  lines=$(wc -l <"$dir/check.err")
  ((lines == 1)) || { cat "$dir/check.err" >&2; fail "$name.sh check with $variable='$value': $lines lines on stderr, expected 1"; }
  grep -qF -- "$word" "$dir/check.err" || fail "$name.sh check does not name the bad entry: $(cat "$dir/check.err")"
  [[ ! -s $dir/check.out ]] || fail "$name.sh check with $variable='$value' printed on stdout: $(cat "$dir/check.out")"
}

# study_submit_and_wait NAME DIR ARGS...: runs `jobs/NAME.sh submit ARGS...`
# in DIR (a throwaway Slurm started by slurm_test_start), waits for its
# collector job and fails, showing the jobs' logs, unless the array and the
# collector completed. Sets `outdir`, `array` and `collector`.
study_submit_and_wait() {
  local name=$1 dir=$2
  shift 2
  local status=0 job_state reason wait_limit deadline
  (cd "$dir" && exec bash "$repo/jobs/$name.sh" submit "$@") >"$dir/submit.out" 2>"$dir/submit.err" || status=$?
  cat "$dir/submit.out"
  array=$(sed -n "s/^$name: array job \([0-9]*\) .*/\1/p" "$dir/submit.out")
  collector=$(sed -n "s/^$name: collector job \([0-9]*\) .*/\1/p" "$dir/submit.out")
  outdir=$(sed -n "s/^$name: output in //p" "$dir/submit.out")
  study_dir=$dir
  ((status == 0)) || { study_show; fail "$name.sh submit exit status $status"; }
  [[ $array =~ ^[0-9]+$ && $collector =~ ^[0-9]+$ && -d $outdir ]] ||
    { study_show; fail "$name.sh submit printed no array job id, collector job id or output directory"; }
  [[ $outdir == "$dir/$name"-* ]] || fail "output directory $outdir is not a new $name-<time> in $dir"

  # The collector ends (COMPLETED, FAILED, ...), or stays pending for ever
  # with reason DependencyNeverSatisfied when a task of the array failed.
  wait_limit=${TWINFLOW_TEST_TIMEOUT:-300}
  deadline=$((SECONDS + wait_limit))
  while :; do
    job_state=$(job_field "$collector" JobState)
    reason=$(job_field "$collector" Reason)
    case $job_state in
      PENDING | RUNNING | COMPLETING | CONFIGURING | SUSPENDED | REQUEUE*)
        [[ $reason == DependencyNeverSatisfied ]] && { study_show; fail "a task of array job $array failed (logs above)"; }
        ;;
      *) break ;;
    esac
    ((SECONDS < deadline)) || { study_show; fail "collector job $collector not done after $wait_limit s (state $job_state)"; }
    sleep 2
  done
  echo "collector job $collector $job_state $((SECONDS - t0)) s after the start of the local Slurm"
  [[ $job_state == COMPLETED ]] || { study_show; fail "collector job $collector ended $job_state"; }
}

# sbatch_wait FROM_DIR JOB_DIR SCRIPT ARGS...: `sbatch --parsable --wait
# --chdir=JOB_DIR SCRIPT ARGS...` run from FROM_DIR in the background (so
# that SIGINT/SIGTERM reach the trap at once), bounded by
# TWINFLOW_TEST_TIMEOUT seconds (default 150); stdout and stderr go to
# $scratch/sbatch.out and sbatch.err. Sets `status` (sbatch's exit status,
# 124 on time-out) and `jobid`.
sbatch_wait() {
  local from=$1 dir=$2
  shift 2
  status=0
  (cd "$from" && exec timeout "${TWINFLOW_TEST_TIMEOUT:-150}" sbatch --parsable --wait --chdir="$dir" "$@") \
    >"$scratch/sbatch.out" 2>"$scratch/sbatch.err" &
  waiter=$!
  wait "$waiter" || status=$?
  waiter=
  jobid=$(head -n 1 "$scratch/sbatch.out" | cut -d';' -f1)
}

# job_field JOBID FIELD: a field of `scontrol show job` (empty when unknown).
job_field() {
  scontrol show job -o "$1" 2>/dev/null | head -n 1 | grep -o "\b$2=[^ ]*" | cut -d= -f2 || true
}

# study_show: the submit's stderr, the study's logs, the jobs and the end of
# slurmd's log, on stderr (after study_submit_and_wait).
study_show() {
  local f
  echo "----- submit stderr -----" >&2
  cat "$study_dir/submit.err" >&2 || true
  for f in "$outdir"/task-*.log "$outdir"/collect.log; do
    [[ -f $f ]] || continue
    echo "----- $f -----" >&2
    cat "$f" >&2
  done
  echo "----- jobs -----" >&2
  for f in $array $collector; do
    scontrol show job -o "$f" >&2 || true
  done
  echo "----- tail $state/log/slurmd.log -----" >&2
  tail -n 20 "$state/log/slurmd.log" >&2 || true
}
