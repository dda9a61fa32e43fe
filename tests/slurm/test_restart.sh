#!/usr/bin/env bash
# Checkpoint-and-requeue cycle of jobs/twin.sbatch on a throwaway single-node
# Slurm (jobs/local-slurm.sh), against an uninterrupted run:
#
#   tests/slurm/test_restart.sh TWINFLOW_BINARY SCRATCH_DIR
#
# 1. The reference: the same run with mpiexec on 2 ranks, no time limit.
# 2. The job: 2 tasks, a 2-minute time limit and USR1 50 s before it
#    (SBATCH_TIMELIMIT, SBATCH_SIGNAL), for a run that needs longer than the
#    first allocation gives it: Slurm signals the batch shell, the script
#    passes USR1 to srun, twinflow checkpoints and exits 75, the job submits
#    its continuation (afterany), which resumes with --restart=latest, until
#    the run finishes. Slurm may send the signal up to 60 s earlier than asked
#    (sbatch(1), --signal), so it comes 10 to 70 s into an allocation: after
#    twinflow has started, before this run ends. Checks: at least one
#    checkpoint-and-resubmit cycle in the job logs, and an output identical to
#    the reference (every dataset bit for bit, every non-provenance attribute).
# 3. A chained job (--dependency=afterany on the first) of the same run
#    exits 0 at once, saying the run has finished.
#
# Needs root, slurm-wlm, munge and a Python that imports h5py; exits 77
# (skipped) when one of them is missing.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=SCRIPTDIR/slurm-test-lib.sh
source "$here/slurm-test-lib.sh"
slurm_test_prerequisites "$@"
slurm_test_start

# About 85 s on 2 ranks on a fast machine, most of it the reverse sampler:
# beyond the latest signal, 70 s into the first allocation.
run_args=(--particles.count=1500000 --ou.steps=3000 --pde.steps=8000 --grid.cells=512 --quiet)
rm -rf -- "$scratch/reference" "$scratch"/cycle* "$scratch"/twinflow-*.log
mkdir -p "$scratch/reference"

echo "reference run (mpiexec, 2 ranks)"
(cd "$scratch/reference" && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
  timeout 400 mpiexec -n 2 "$binary" run --output=cycle.h5 "${run_args[@]}" >reference.log 2>&1) ||
  fail "the reference run failed: $(tail -n 5 "$scratch/reference/reference.log")"

export TWINFLOW=$binary TWINFLOW_RUN=cycle TWINFLOW_RESUBMIT=sbatch SBATCH_TIMELIMIT=2 SBATCH_SIGNAL=B:USR1@50
unset TWINFLOW_OUTDIR
jobid=$(cd "$repo" && sbatch --parsable --chdir="$scratch" jobs/twin.sbatch "${run_args[@]}") || fail "sbatch failed"
jobid=${jobid%%;*}
echo "job $jobid submitted"

limit=$((SECONDS + ${TWINFLOW_TEST_TIMEOUT:-600}))
while [[ ! -f $scratch/cycle.h5 ]] || squeue -h 2>/dev/null | grep -q .; do
  if ((SECONDS > limit)) || { [[ ! -f $scratch/cycle.h5 ]] && ! squeue -h 2>/dev/null | grep -q .; }; then
    cat "$scratch"/twinflow-*.log >&2 || true
    squeue >&2 || true
    fail "the run did not finish (no job left, or ${TWINFLOW_TEST_TIMEOUT:-600} s passed)"
  fi
  sleep 1
done
echo "the run finished after $((SECONDS - t0)) s"
cat "$scratch"/twinflow-*.log
unset SBATCH_TIMELIMIT SBATCH_SIGNAL

cycles=$(cat "$scratch"/twinflow-*.log | grep -c "exit status 75" || true)
continued=$(cat "$scratch"/twinflow-*.log | grep -c "cycle continues in job" || true)
((cycles >= 1)) || fail "no checkpoint-and-stop in the job logs"
((continued == cycles)) || fail "$cycles checkpointed segment(s) but $continued resubmission(s)"
(($(cat "$scratch"/twinflow-*.log | grep -c "exit status 0") == 1)) || fail "not exactly one segment ended with 0"
echo "$cycles checkpoint-and-resubmit cycle(s)"

OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
  "$binary" diff "$scratch/reference/cycle.h5" "$scratch/cycle.h5" >"$scratch/diff.log" 2>&1 ||
  { cat "$scratch/diff.log" >&2; fail "the requeued run's output differs from the reference (twinflow diff)"; }

echo "chained job of the finished run"
chain=$(cd "$repo" && TWINFLOW_RESUBMIT=off timeout 120 sbatch --parsable --wait --chdir="$scratch" \
  --time=1 --dependency="afterany:$jobid" jobs/twin.sbatch "${run_args[@]}") || fail "the chained job failed"
chain=${chain%%;*}
grep -q "the run has finished; nothing to do" "$scratch/twinflow-$chain.log" ||
  fail "the chained job did not recognise the finished run: $(cat "$scratch/twinflow-$chain.log")"
[[ ! -e $scratch/cycle.checkpoints ]] || fail "the finished run left its manifest"
echo "PASS: $cycles cycle(s), output identical to the uninterrupted run, chained job exited at once"
