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
# shellcheck source=SCRIPTDIR/job-lib.sh
source "$jobs/job-lib.sh"
# shellcheck source=SCRIPTDIR/study-lib.sh
source "$jobs/study-lib.sh"

study_main free-n-study "$jobs/free_n_study.py" "$jobs/free-n-study.sbatch" "$jobs/free-n-collect.sbatch" "" \
  "${BASH_SOURCE[0]}" "$@"
