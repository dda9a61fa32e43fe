# The body shared by the jobs/<family>.sbatch scripts: finds the binary,
# names the output after the family and the job, and launches one
# `twinflow run --family=$family` with srun. Sourced with $family set and the
# job's arguments in "$@"; see jobs/ou.sbatch for the variables it reads.
if [[ -z ${SLURM_JOB_ID:-} ]]; then
  echo "${family}.sbatch: not inside a Slurm job; submit it with: sbatch jobs/${family}.sbatch [ARGS...]" >&2
  exit 2
fi

# shellcheck source=SCRIPTDIR/job-lib.sh
source "$jobs/job-lib.sh"
twinflow=$(twinflow_binary "${family}.sbatch" "$SLURM_SUBMIT_DIR") || exit 2

outdir=${TWINFLOW_OUTDIR:-$PWD}
mkdir -p "$outdir"
# The run's name fixes its output (and its checkpoints): the same in every
# job that continues it (a requeued job keeps its id; a resubmitted or chained
# job gets TWINFLOW_RUN).
run_name=${TWINFLOW_RUN:-twinflow-${family}-${SLURM_JOB_ID}}
output=${outdir}/${run_name}.h5

echo "${family}.sbatch: job ${SLURM_JOB_ID} (restart count ${SLURM_RESTART_COUNT:-0}) on ${SLURM_JOB_NODELIST:-?}, ${SLURM_NTASKS:-?} tasks, started $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "${family}.sbatch: binary ${twinflow}"
echo "${family}.sbatch: output ${output}"
echo "${family}.sbatch: arguments: $*"

# A job of a chain whose run has already finished has nothing to do.
if [[ -f $output ]]; then
  echo "${family}.sbatch: ${output} exists: the run has finished; nothing to do"
  exit 0
fi
resume=()
if [[ -f ${outdir}/${run_name}.checkpoints ]]; then
  resume=(--restart=latest)
  echo "${family}.sbatch: resuming from the newest checkpoint listed in ${outdir}/${run_name}.checkpoints"
fi

# Slurm signals this shell (#SBATCH --signal=B:USR1@<s>) before the time
# limit, or SIGTERM when the job is cancelled or preempted: pass it on to srun,
# which passes it to every task; twinflow then writes a checkpoint at its next
# step boundary and exits 75. srun runs in the background so that the trap
# runs at once, and `wait` is repeated because a trapped signal interrupts it.
srun --mpi="${TWINFLOW_SRUN_MPI:-pmix}" "$twinflow" run --family="$family" --output="$output" "${resume[@]}" "$@" &
srun_pid=$!
forward() {
  echo "${family}.sbatch: SIG$1 at $(date -u +%Y-%m-%dT%H:%M:%SZ), passed on to the tasks"
  kill -s "$1" "$srun_pid" 2>/dev/null || true
}
trap 'forward USR1' USR1
trap 'forward TERM' TERM
status=0
while true; do
  wait "$srun_pid" && status=0 || status=$?
  kill -0 "$srun_pid" 2>/dev/null || break
done
trap - USR1 TERM

echo "${family}.sbatch: finished $(date -u +%Y-%m-%dT%H:%M:%SZ), exit status ${status}"
if ((status == 75)); then
  # Checkpointed before the time limit: continue the run in a new allocation.
  case ${TWINFLOW_RESUBMIT:-sbatch} in
    sbatch)
      # The same size, time limit and partition; the signal comes from the
      # script's #SBATCH line or SBATCH_SIGNAL in the environment.
      next=$(sbatch --parsable --dependency="afterany:${SLURM_JOB_ID}" --ntasks="${SLURM_NTASKS}" \
        --time="$(squeue -h -j "$SLURM_JOB_ID" -o %l)" ${SLURM_JOB_PARTITION:+--partition="$SLURM_JOB_PARTITION"} \
        --export="ALL,TWINFLOW_RUN=${run_name},TWINFLOW_JOBS=${jobs},TWINFLOW=${twinflow}" \
        "$jobs/${family}.sbatch" "$@")
      echo "${family}.sbatch: ${run_name} continues in job ${next%%;*}"
      ;;
    requeue)
      echo "${family}.sbatch: requeueing job ${SLURM_JOB_ID} to continue ${run_name}"
      scontrol requeue "$SLURM_JOB_ID"
      ;;
    *) echo "${family}.sbatch: TWINFLOW_RESUBMIT=${TWINFLOW_RESUBMIT}: not resubmitted; continue with --restart=latest" ;;
  esac
fi
exit "$status"
