#!/usr/bin/env bash
# The KL convergence study (README.md ("The KL convergence study")): every row of a run table is one
# `twinflow run --sampler_law=true`, then a collector gathers the KL values,
# fits slopes against the step size, prints acceptance lines and plots.
#
#   jobs/kl-study.sh submit [TABLE] [--key=value ...]   Slurm: job array + collector job (afterok)
#   jobs/kl-study.sh local  [TABLE] [--key=value ...]   no Slurm: the rows one after another, then the collector
#   jobs/kl-study.sh check  [TABLE] [--key=value ...]   validate only; print each row's arguments
#
# TABLE defaults to jobs/kl-study.table, whose header describes the format.
# The --key=value arguments apply to every row (a row's own overrides win);
# the study's defaults are --sampler_law=true --pde.enabled=false
# --time.snapshots=2 --quiet=true --overwrite=true
# --particles.count=$TWINFLOW_PARTICLES. The table and the arguments are
# validated as a whole first: a bad one is one line on stderr, exit status 2,
# and nothing is submitted or run.
#
# Output directory: $TWINFLOW_OUTDIR, else ./kl-study-<YYYYmmdd-HHMMSS> (a new
# one). It receives a copy of the table (kl-study.table, which the jobs
# read, so the original may be edited at once), task-NNN.h5 and task-NNN.log
# per row, and from the collector collect.log, kl-study.csv, slopes.csv,
# kl-study.h5, kl_vs_h.png and particle_vs_exact.png.
#
# submit: `sbatch --array=0-(rows-1) jobs/kl-study.sbatch`, then
#   `sbatch --dependency=afterok:<array job> jobs/kl-collect.sbatch`; prints
#   both job ids. Resources come from the #SBATCH lines of those scripts;
#   sbatch also reads SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_TIMELIMIT, ...
#   from the environment. The jobs inherit this environment, including the
#   binary found here (TWINFLOW) and the Python (TWINFLOW_PYTHON); see
#   jobs/kl-study.sbatch for the site-specific part (modules, srun --mpi).
# local: `mpirun -n $TWINFLOW_NP twinflow run ...` per row, stopping at the
#   first failed row (like afterok, the collector runs only if all succeed).
#   As root, Open MPI's mpirun needs OMPI_ALLOW_RUN_AS_ROOT=1 and
#   OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 exported; the environment is passed on.
#
# Environment:
#   TWINFLOW            the binary. Default: `twinflow` on the PATH, else
#                       <checkout>/build/src/twinflow
#   TWINFLOW_PYTHON     a Python 3 with h5py, numpy and matplotlib. Default:
#                       /usr/bin/python3, else python3 on the PATH
#   TWINFLOW_OUTDIR     the output directory (see above)
#   TWINFLOW_PARTICLES  particles per run (default 200000)
#   TWINFLOW_NP         MPI ranks per run in local mode (default 2)
#   TWINFLOW_SRUN_MPI   srun --mpi of the array tasks (default pmix)

set -euo pipefail

jobs=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
checkout=$(dirname "$jobs")
# shellcheck source=SCRIPTDIR/job-lib.sh
source "$jobs/job-lib.sh"

die() { # status message
  echo "kl-study: $2" >&2
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
  *) die 2 "usage: $0 submit|local|check [TABLE] [--key=value ...]   ($0 --help for more)" ;;
esac
table=$jobs/kl-study.table
if [[ $# -gt 0 && $1 != --* ]]; then
  table=$1
  shift
fi

python=$(twinflow_python kl-study) || exit 2
kl=("$python" "$jobs/kl_study.py")

if [[ $mode == check ]]; then
  exec "${kl[@]}" check "$table" "$@"
fi

# Validate everything before anything is created, submitted or run.
rows=$("${kl[@]}" count "$table" "$@") || exit $?
twinflow=$(twinflow_binary kl-study "$checkout") || exit 2
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
    echo "kl-study: warning: $outdir already holds $stale .h5 file(s); the collector reads every run there" >&2
  fi
else
  outdir=kl-study-$(date +%Y%m%d-%H%M%S)
  mkdir -- "$outdir" || die 1 "cannot create $outdir (a study started in the same second?); set TWINFLOW_OUTDIR"
fi
outdir=$(cd "$outdir" && pwd -P)
# The jobs read this copy: the table may be edited while they are queued.
frozen=$outdir/kl-study.table
[[ $table -ef $frozen ]] || cp -- "$table" "$frozen"

if [[ $mode == submit ]]; then
  export TWINFLOW=$twinflow TWINFLOW_PYTHON=$python TWINFLOW_JOBS=$jobs
  array=$(sbatch --parsable --array="0-$((rows - 1))" --output="$outdir/task-%3a.log" \
    "$jobs/kl-study.sbatch" "$frozen" "$outdir" "$@") || die 1 "sbatch of the job array failed; nothing submitted"
  array=${array%%;*} # --parsable prints "jobid[;cluster]"
  if ! collector=$(sbatch --parsable --dependency="afterok:$array" --output="$outdir/collect.log" \
    "$jobs/kl-collect.sbatch" "$outdir"); then
    scancel "$array" || true
    die 1 "sbatch of the collector failed; cancelled the job array $array"
  fi
  collector=${collector%%;*}
  echo "kl-study: array job $array ($rows tasks, logs $outdir/task-NNN.log)"
  echo "kl-study: collector job $collector (after the array succeeds; log $outdir/collect.log)"
  echo "kl-study: output in $outdir"
  exit 0
fi

# local
if [[ $(id -u) == 0 && -z ${OMPI_ALLOW_RUN_AS_ROOT:-} ]]; then
  echo "kl-study: warning: running as root: Open MPI's mpirun refuses unless OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 are exported" >&2
fi
echo "kl-study: $rows runs on $np ranks each, output in $outdir"
for ((row = 0; row < rows; row++)); do
  name=$(printf 'task-%03d' "$row")
  plan=$("${kl[@]}" args "$frozen" "$row" "$outdir" "$@")
  mapfile -t args <<<"$plan"
  echo "kl-study: $name ($((row + 1))/$rows): ${args[*]:0:5}"
  t0=$SECONDS
  status=0
  mpirun -n "$np" "$twinflow" run "${args[@]}" >"$outdir/$name.log" 2>&1 </dev/null || status=$?
  if ((status != 0)); then
    tail -n 20 "$outdir/$name.log" >&2
    die 1 "$name failed (exit status $status; log $outdir/$name.log); stopping before the collector"
  fi
  echo "kl-study: $name done in $((SECONDS - t0)) s"
done
"${kl[@]}" collect "$outdir" 2>&1 | tee "$outdir/collect.log"
