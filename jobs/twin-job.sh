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
output=${outdir}/twinflow-${family}-${SLURM_JOB_ID}.h5

echo "${family}.sbatch: job ${SLURM_JOB_ID} on ${SLURM_JOB_NODELIST:-?}, ${SLURM_NTASKS:-?} tasks, started $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "${family}.sbatch: binary ${twinflow}"
echo "${family}.sbatch: output ${output}"
echo "${family}.sbatch: arguments: $*"

status=0
srun --mpi="${TWINFLOW_SRUN_MPI:-pmix}" "$twinflow" run --family="$family" --output="$output" "$@" || status=$?

echo "${family}.sbatch: finished $(date -u +%Y-%m-%dT%H:%M:%SZ), exit status ${status}"
exit "$status"
