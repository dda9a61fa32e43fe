#!/usr/bin/env bash
# The matrix-size study of the free family: how the error between the
# eigenvalue histogram of K random N x N matrices and the free Fokker–Planck
# density shrinks as N grows. Every N of a list is one `twinflow run
# --family=free` with K = ceil(TWINFLOW_FREE_POINTS / N) matrices (about the
# same number K*N of eigenvalues in every run); a collector then reads W1 at
# t = T from each run, fits the rate p of W1 ~ C N^-p and plots it.
#
#   jobs/free-n-study.sh submit [--key=value ...]   Slurm: job array + collector job (afterok)
#   jobs/free-n-study.sh local  [--key=value ...]   no Slurm: the runs one after another, then the collector
#   jobs/free-n-study.sh check  [--key=value ...]   validate only; print each run's arguments
#
# The --key=value arguments apply to every run and override the study's
# defaults --free.steps=0 --free.jko=false --quiet=true --overwrite=true
# --free.beta=1 (GOE noise: the 1/N bias of its mean eigenvalue density is
# what the study shows), e.g. --free.beta=2 or --time.snapshots=3; only
# --family, --output, --free.matrix_size and --free.matrices are the study's.
# The list, the count and the arguments are validated as a whole first: a bad
# one is one line on stderr, exit status 2, and nothing is submitted or run.
#
# Output directory: $TWINFLOW_OUTDIR, else ./free-n-study-<YYYYmmdd-HHMMSS>
# (a new one). It receives task-NNN.h5 and task-NNN.log per N (in the order of
# the list), and from the collector collect.log, free-n-study.csv (N,
# matrices, W1, L1, the L1 noise floor, the error of the particle second
# moment against its finite-N exact value and its standard error),
# free-n-rate.txt (the line `fitted rate p = ...`) and free_n_w1.png.
#
# submit: `sbatch --array=0-(sizes-1) jobs/free-n-study.sbatch`, then
#   `sbatch --dependency=afterok:<array job> jobs/free-n-collect.sbatch`;
#   prints both job ids. Resources come from the #SBATCH lines of those
#   scripts; sbatch also reads SBATCH_PARTITION, SBATCH_ACCOUNT,
#   SBATCH_TIMELIMIT, ... from the environment. The jobs inherit this
#   environment, including TWINFLOW_FREE_N, TWINFLOW_FREE_POINTS, the binary
#   found here (TWINFLOW) and the Python (TWINFLOW_PYTHON); see
#   jobs/free-n-study.sbatch for the site-specific part (modules, srun --mpi).
# local: `mpirun -n $TWINFLOW_NP twinflow run ...` per N, stopping at the
#   first failed run (like afterok, the collector runs only if all succeed).
#   As root, Open MPI's mpirun needs OMPI_ALLOW_RUN_AS_ROOT=1 and
#   OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 exported; the environment is passed on.
#
# Environment:
#   TWINFLOW_FREE_N       the matrix sizes, blank- or comma-separated: at least
#                         two distinct integers in [2, 100000]
#                         (default "50 100 200 400")
#   TWINFLOW_FREE_POINTS  eigenvalues per run, K*N rounded up to whole
#                         matrices (default 40000)
#   TWINFLOW              the binary. Default: `twinflow` on the PATH, else
#                         <checkout>/build/src/twinflow
#   TWINFLOW_PYTHON       a Python 3 with h5py, numpy and matplotlib. Default:
#                         /usr/bin/python3, else python3 on the PATH
#   TWINFLOW_OUTDIR       the output directory (see above)
#   TWINFLOW_NP           MPI ranks per run in local mode (default 2)
#   TWINFLOW_SRUN_MPI     srun --mpi of the array tasks (default pmix)

set -euo pipefail

jobs=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
checkout=$(dirname "$jobs")
# shellcheck source=SCRIPTDIR/job-lib.sh
source "$jobs/job-lib.sh"

die() { # status message
  echo "free-n-study: $2" >&2
  exit "$1"
}

mode=${1:-}
case $mode in
  submit | local | check) shift ;;
  -h | --help)
    # The header of this file, up to the first blank line.
    sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit 0
    ;;
  *) die 2 "usage: $0 submit|local|check [--key=value ...]   ($0 --help for more)" ;;
esac

python=$(twinflow_python free-n-study) || exit 2
study=("$python" "$jobs/free_n_study.py")

if [[ $mode == check ]]; then
  exec "${study[@]}" check "$@"
fi

# Validate everything before anything is created, submitted or run.
tasks=$("${study[@]}" count "$@") || exit $?
twinflow=$(twinflow_binary free-n-study "$checkout") || exit 2
twinflow=$(realpath -- "$twinflow")
if [[ $mode == local ]]; then
  np=${TWINFLOW_NP:-2}
  [[ $np =~ ^[1-9][0-9]*$ ]] || die 2 "TWINFLOW_NP '$np' is not a positive integer; accepted: an integer >= 1"
  command -v mpirun >/dev/null 2>&1 || die 2 "mpirun not found on the PATH; accepted: an MPI installation (the one twinflow was built with)"
else
  command -v sbatch >/dev/null 2>&1 || die 2 "sbatch not found on the PATH; use 'local' to run without Slurm"
fi

if [[ -n ${TWINFLOW_OUTDIR:-} ]]; then
  outdir=$TWINFLOW_OUTDIR
  mkdir -p -- "$outdir"
  stale=$(find "$outdir" -maxdepth 1 -name '*.h5' | wc -l)
  if ((stale > 0)); then
    echo "free-n-study: warning: $outdir already holds $stale .h5 file(s); the collector reads every run there" >&2
  fi
else
  outdir=free-n-study-$(date +%Y%m%d-%H%M%S)
  mkdir -- "$outdir" || die 1 "cannot create $outdir (a study started in the same second?); set TWINFLOW_OUTDIR"
fi
outdir=$(cd "$outdir" && pwd -P)

if [[ $mode == submit ]]; then
  export TWINFLOW=$twinflow TWINFLOW_PYTHON=$python TWINFLOW_JOBS=$jobs
  array=$(sbatch --parsable --array="0-$((tasks - 1))" --output="$outdir/task-%3a.log" \
    "$jobs/free-n-study.sbatch" "$outdir" "$@") || die 1 "sbatch of the job array failed; nothing submitted"
  array=${array%%;*} # --parsable prints "jobid[;cluster]"
  if ! collector=$(sbatch --parsable --dependency="afterok:$array" --output="$outdir/collect.log" \
    "$jobs/free-n-collect.sbatch" "$outdir"); then
    scancel "$array" || true
    die 1 "sbatch of the collector failed; cancelled the job array $array"
  fi
  collector=${collector%%;*}
  echo "free-n-study: array job $array ($tasks tasks, logs $outdir/task-NNN.log)"
  echo "free-n-study: collector job $collector (after the array succeeds; log $outdir/collect.log)"
  echo "free-n-study: output in $outdir"
  exit 0
fi

# local
if [[ $(id -u) == 0 && -z ${OMPI_ALLOW_RUN_AS_ROOT:-} ]]; then
  echo "free-n-study: warning: running as root: Open MPI's mpirun refuses unless OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 are exported" >&2
fi
echo "free-n-study: $tasks runs on $np ranks each, output in $outdir"
for ((task = 0; task < tasks; task++)); do
  name=$(printf 'task-%03d' "$task")
  plan=$("${study[@]}" args "$task" "$outdir" "$@")
  mapfile -t args <<<"$plan"
  echo "free-n-study: $name ($((task + 1))/$tasks): ${args[*]:1:2}"
  t0=$SECONDS
  status=0
  mpirun -n "$np" "$twinflow" run "${args[@]}" >"$outdir/$name.log" 2>&1 </dev/null || status=$?
  if ((status != 0)); then
    tail -n 20 "$outdir/$name.log" >&2
    die 1 "$name failed (exit status $status; log $outdir/$name.log); stopping before the collector"
  fi
  echo "free-n-study: $name done in $((SECONDS - t0)) s"
done
"${study[@]}" collect "$outdir" 2>&1 | tee "$outdir/collect.log"
