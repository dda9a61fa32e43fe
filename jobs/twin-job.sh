# The body shared by the jobs/<family>.sbatch scripts: finds the binary,
# names the output after the family and the job, and launches one
# `twinflow run --family=$family` with srun. Sourced with $family set and the
# job's arguments in "$@"; see jobs/ou.sbatch for the variables it reads.
if [[ -z ${SLURM_JOB_ID:-} ]]; then
  echo "${family}.sbatch: not inside a Slurm job; submit it with: sbatch jobs/${family}.sbatch [ARGS...]" >&2
  exit 2
fi

if [[ -n ${TWINFLOW:-} ]]; then
  twinflow=$TWINFLOW
elif command -v twinflow >/dev/null 2>&1; then
  twinflow=$(command -v twinflow)
else
  twinflow=${SLURM_SUBMIT_DIR}/build/src/twinflow
fi
if [[ ! -f $twinflow || ! -x $twinflow ]]; then
  echo "${family}.sbatch: twinflow binary not found or not executable: '$twinflow'" >&2
  if [[ -z ${TWINFLOW:-} ]]; then
    echo "${family}.sbatch: no 'twinflow' on the PATH either; set TWINFLOW=/path/to/twinflow (sbatch passes the environment on)" >&2
  fi
  exit 2
fi

outdir=${TWINFLOW_OUTDIR:-$PWD}
mkdir -p "$outdir"
output=${outdir}/twinflow-${family}-${SLURM_JOB_ID}.h5

echo "${family}.sbatch: job ${SLURM_JOB_ID} on ${SLURM_JOB_NODELIST:-?}, ${SLURM_NTASKS:-?} tasks, started $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "${family}.sbatch: binary ${twinflow}"
echo "${family}.sbatch: output ${output}"
echo "${family}.sbatch: arguments: $*"

status=0
srun --mpi="${TWINFLOW_SRUN_MPI:-pmix}" "$twinflow" run --family="$family" --output="$output" "$@" || status=$?

echo "${family}.sbatch: finished $(date -u +%Y-%m-%dT%H:%M:%SZ), exit status ${status}"
exit "$status"
