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
# shellcheck source=SCRIPTDIR/job-lib.sh
source "$jobs/job-lib.sh"
# shellcheck source=SCRIPTDIR/study-lib.sh
source "$jobs/study-lib.sh"

study_main kl-study "$jobs/kl_study.py" "$jobs/kl-study.sbatch" "$jobs/kl-collect.sbatch" "$jobs/kl-study.table" \
  "${BASH_SOURCE[0]}" "$@"
