#!/usr/bin/env bash
# End-to-end test of jobs/twin.sbatch for one family on a throwaway
# single-node Slurm (jobs/local-slurm.sh): submit `sbatch --wait
# jobs/twin.sbatch --family=FAMILY ...` from the checkout (so the script finds
# jobs/job-lib.sh), then check the HDF5 output with h5py.
#
#   tests/slurm/test_sbatch.sh FAMILY TWINFLOW_BINARY SCRATCH_DIR
#
# Needs root, slurm-wlm, munge, and a Python that imports h5py; exits 77
# (skipped) when one of them is missing. SCRATCH_DIR gets the Slurm state
# (SCRATCH_DIR/slurm-state), the job log and the .h5 file; whatever an aborted
# earlier run left there is stopped and removed first. Only the daemons
# started here are stopped at exit. TWINFLOW_TEST_TIMEOUT (default 150)
# bounds the wait for the job, in seconds.

set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 FAMILY TWINFLOW_BINARY SCRATCH_DIR" >&2
  exit 2
fi
family=$1
shift

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=SCRIPTDIR/slurm-test-lib.sh
source "$here/slurm-test-lib.sh"
job_script=$repo/jobs/twin.sbatch

slurm_test_prerequisites "$1" "$2"
jobid=
slurm_test_start

# --- submit -----------------------------------------------------------------
rm -f -- "$scratch"/twinflow-*.log "$scratch"/twinflow-$family-*.h5 "$scratch"/sbatch.out "$scratch"/sbatch.err
export TWINFLOW=$binary
unset TWINFLOW_OUTDIR
wait_limit=${TWINFLOW_TEST_TIMEOUT:-150}
# A short run: fewer particles, and for kac fewer flow steps; free's units
# are matrices; spin has no grid, its PDE is on all 2^L states.
case $family in
  spin) run_args=(--spin.L=10 --particles.count=2000 --quiet) ;;
  free) run_args=(--free.matrices=40 --free.steps=20 --free.jko_points=20 --quiet) ;;
  kac) run_args=(--particles.count=20000 --kac.steps=20 --quiet) ;;
  kinetic) run_args=(--time.end=0.5 --grid.cells=64 --particles.count=20000 --sampler_law=true --quiet) ;;
  *) run_args=(--time.end=0.5 --particles.count=20000 --quiet) ;;
esac
sbatch_wait "$repo" "$scratch" "$job_script" --family="$family" "${run_args[@]}"
log=$scratch/twinflow-$jobid.log
h5=$scratch/twinflow-$family-$jobid.h5
echo "job ${jobid:-?} done in $((SECONDS - t0)) s since start, sbatch exit status $status"

show() {
  echo "----- sbatch stderr -----" >&2
  cat "$scratch/sbatch.err" >&2 || true
  if [[ -n $jobid && -f $log ]]; then
    echo "----- job log $log -----" >&2
    cat "$log" >&2
  else
    echo "----- no job log (job id '${jobid}') -----" >&2
  fi
  echo "----- tail $state/log/slurmd.log -----" >&2
  tail -n 20 "$state/log/slurmd.log" >&2 || true
}

[[ $jobid =~ ^[0-9]+$ ]] || { show; fail "sbatch printed no job id"; }
if ((status == 124)); then
  show
  squeue -j "$jobid" >&2 || true
  fail "sbatch --wait timed out after $wait_limit s"
fi
((status == 0)) || { show; fail "sbatch --wait exit status $status (the job failed)"; }
[[ -f $log ]] || { show; fail "no job log $log"; }
[[ -f $h5 ]] || { show; fail "no output $h5 next to the log"; }

# --- check the output -------------------------------------------------------
if ! "$python" - "$h5" "$jobid" "$family" <<'EOF'; then
import sys

import h5py
import numpy as np

path, jobid, family = sys.argv[1], sys.argv[2], sys.argv[3]
errors = []


def scalar(value):
    arr = np.asarray(value)
    if arr.size == 1:
        value = arr.reshape(-1)[0]
    if isinstance(value, bytes):
        value = value.decode()
    return value


with h5py.File(path, "r") as f:
    attrs = {k: scalar(v) for k, v in f.attrs.items()}
    if "slurm_job_id" not in attrs:
        errors.append("root attribute slurm_job_id missing")
    elif str(attrs["slurm_job_id"]).strip() != jobid:
        errors.append(f"slurm_job_id = {attrs['slurm_job_id']!r}, expected {jobid}")
    if str(attrs.get("family")) != family:
        errors.append(f"family = {attrs.get('family')!r}, expected {family}")
    if "nranks" not in attrs:
        errors.append("root attribute nranks missing")
    elif int(attrs["nranks"]) != 2:
        errors.append(f"nranks = {attrs['nranks']!r}, expected 2")
    pde = "/pde/probability" if family == "spin" else "/pde/density"
    for name in (pde, "/particles/histogram", "/time"):
        if not isinstance(f.get(name), h5py.Dataset):
            errors.append(f"dataset {name} missing")
    if errors:
        print(f"root attributes: {attrs}", file=sys.stderr)
        f.visit(lambda n: print(f"  {n}", file=sys.stderr))

for e in errors:
    print(f"{path}: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
  show
  fail "output check failed for $h5"
fi

echo "PASS: job $jobid wrote $h5 (slurm_job_id, nranks=2, /pde/density, /particles/histogram, /time) in $((SECONDS - t0)) s"
