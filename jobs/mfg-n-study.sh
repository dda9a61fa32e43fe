#!/usr/bin/env bash
# The training-size study of the mfg family: how the generated samples of the
# kernel, empirical and (for mixture data) exact scores generalise or
# memorise as the number n of training points grows. Every n of a list is one
# `twinflow run --family=mfg --mfg.score=kernel` (the other scores run beside
# the kernel's); a collector then reads, per score at s = T, the memorised
# fraction, the sliced W1 to fresh data of the law with its noise level, the
# mean log-likelihood under the law and the kernel's training time, and
# plots them against n with the generated densities over the training points.
#
#   jobs/mfg-n-study.sh submit [--key=value ...]   Slurm: job array + collector job (afterok)
#   jobs/mfg-n-study.sh local  [--key=value ...]   no Slurm: the runs one after another, then the collector
#   jobs/mfg-n-study.sh check  [--key=value ...]   validate only; print each run's arguments
#
# The --key=value arguments apply to every run and override the study's
# defaults --mfg.score=kernel --quiet=true --overwrite=true, e.g.
# --mfg.data=toy:moons --mfg.beta=0.8 --particles.count=20000; only
# --family, --output and --mfg.train are the study's. The list and the
# arguments are validated as a whole first: a bad one is one line on stderr,
# exit status 2, and nothing is submitted or run.
#
# Output directory: $TWINFLOW_OUTDIR, else ./mfg-n-study-<YYYYmmdd-HHMMSS>
# (a new one). It receives task-NNN.h5 and task-NNN.log per n (in the order of
# the list), and from the collector collect.log, mfg-n-study.csv,
# mfg_n_metrics.png and mfg_n_samples.png (jobs/mfg_n_study.py describes
# their columns and panels).
#
# submit: `sbatch --array=0-(sizes-1) jobs/mfg-n-study.sbatch`, then
#   `sbatch --dependency=afterok:<array job> jobs/mfg-n-collect.sbatch`;
#   prints both job ids. Resources come from the #SBATCH lines of those
#   scripts; sbatch also reads SBATCH_PARTITION, SBATCH_ACCOUNT,
#   SBATCH_TIMELIMIT, ... from the environment. The jobs inherit this
#   environment, including TWINFLOW_MFG_N, the binary found here (TWINFLOW)
#   and the Python (TWINFLOW_PYTHON); see jobs/mfg-n-study.sbatch for the
#   site-specific part (modules, srun --mpi).
# local: `mpirun -n $TWINFLOW_NP twinflow run ...` per n, stopping at the
#   first failed run (like afterok, the collector runs only if all succeed).
#   As root, Open MPI's mpirun needs OMPI_ALLOW_RUN_AS_ROOT=1 and
#   OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 exported; the environment is passed on.
#
# Environment:
#   TWINFLOW_MFG_N        the training-set sizes, blank- or comma-separated: at
#                         least two distinct integers in [2, 1e7]
#                         (default "50 200 1000 5000")
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

study_main mfg-n-study "$jobs/mfg_n_study.py" "$jobs/mfg-n-study.sbatch" "$jobs/mfg-n-collect.sbatch" "" \
  "${BASH_SOURCE[0]}" "$@"
