#!/usr/bin/env bash
# The Monte Carlo sweep of the spin family (README.md, "Monte Carlo with a
# learned diffusion model"): every task is one `twinflow run --family=spin
# --spin.mode=monte_carlo` at one model size and one beta (2-D Ising) or c
# (Fredkin), then a collector gathers the estimates, acceptances and
# autocorrelation times into tables and plots.
#
#   jobs/mc-study.sh submit [--key=value ...]   Slurm: job array + collector job (afterok)
#   jobs/mc-study.sh local  [--key=value ...]   no Slurm: the tasks one after another, then the collector
#   jobs/mc-study.sh check  [--key=value ...]   validate only; print each task's arguments
#
# The tasks: the cylinders of TWINFLOW_MC_CYLINDERS (default "4x16 8x32") at
# the betas of TWINFLOW_MC_BETAS (default "0.3 0.4406868 0.6"), then the
# Fredkin lengths of TWINFLOW_MC_FREDKIN (default "40 100") at the c of
# TWINFLOW_MC_C (default "0.3 0.5 0.7"); an empty list leaves a model out.
# The --key=value arguments apply to every task and override the study's
# defaults --quiet=true --overwrite=true, e.g. --spin.bond=8 or
# --spin.mc.steps=4000. The lists and the arguments are validated as a whole
# first: a bad one is one line on stderr, exit status 2, and nothing is
# submitted or run.
#
# Output directory: $TWINFLOW_OUTDIR, else ./mc-study-<YYYYmmdd-HHMMSS> (a new
# one). It receives task-NNN.h5 and task-NNN.log per task, and from the
# collector collect.log, mc-study.csv, mc-learning.csv, mc-study.h5,
# mc-study.md (the comparison table), mc_ising2d.png, mc_fredkin.png,
# mc_acceptance.png and mc_tau.png (jobs/mc_study.py describes them).
#
# submit: `sbatch --array=0-(tasks-1) jobs/mc-study.sbatch`, then
#   `sbatch --dependency=afterok:<array job> jobs/mc-collect.sbatch`; prints
#   both job ids. Resources come from the #SBATCH lines of those scripts;
#   sbatch also reads SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_TIMELIMIT, ...
#   from the environment. The jobs inherit this environment, including the
#   TWINFLOW_MC_* lists, the binary found here (TWINFLOW) and the Python
#   (TWINFLOW_PYTHON); see jobs/mc-study.sbatch for the site-specific part.
# local: `mpirun -n $TWINFLOW_NP twinflow run ...` per task, stopping at the
#   first failed task (like afterok, the collector runs only if all succeed).
#   As root, Open MPI's mpirun needs OMPI_ALLOW_RUN_AS_ROOT=1 and
#   OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 exported; the environment is passed on.
#
# Environment:
#   TWINFLOW_MC_CYLINDERS, TWINFLOW_MC_BETAS, TWINFLOW_MC_FREDKIN, TWINFLOW_MC_C
#                       the tasks (see above)
#   TWINFLOW            the binary. Default: `twinflow` on the PATH, else
#                       <checkout>/build/src/twinflow
#   TWINFLOW_PYTHON     a Python 3 with h5py, numpy and matplotlib. Default:
#                       /usr/bin/python3, else python3 on the PATH
#   TWINFLOW_OUTDIR     the output directory (see above)
#   TWINFLOW_NP         MPI ranks per run in local mode (default 2)
#   TWINFLOW_SRUN_MPI   srun --mpi of the array tasks (default pmix)

set -euo pipefail

jobs=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=SCRIPTDIR/job-lib.sh
source "$jobs/job-lib.sh"
# shellcheck source=SCRIPTDIR/study-lib.sh
source "$jobs/study-lib.sh"

study_main mc-study "$jobs/mc_study.py" "$jobs/mc-study.sbatch" "$jobs/mc-collect.sbatch" "" \
  "${BASH_SOURCE[0]}" "$@"
