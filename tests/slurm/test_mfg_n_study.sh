#!/usr/bin/env bash
# End-to-end test of the training-size study of the mfg family
# (jobs/mfg-n-study.sh submit) on a throwaway single-node Slurm
# (jobs/local-slurm.sh): three sizes n = 50, 200, 400 with 5000 generated
# samples each become a job array plus a collector job with afterok; the
# test waits for the collector and checks with h5py:
#   * one task-NNN.h5 per size with slurm_array_task_id = NNN and, in its
#     resolved configuration, the size, the study's mfg.score = kernel and the
#     command-line arguments (--particles.count=5000 --grid.cells=64
#     --mfg.steps=20);
#   * mfg-n-study.csv with one row per size, the empirical score memorising
#     every sample at every n and the kernel score fewer than half, the
#     kernel's training time recorded, and mfg_n_metrics.png and
#     mfg_n_samples.png PNG files.
# Before that, `jobs/mfg-n-study.sh check` with a bad entry in
# TWINFLOW_MFG_N must exit 2 with one line on stderr.
#
#   tests/slurm/test_mfg_n_study.sh TWINFLOW_BINARY SCRATCH_DIR
#
# Needs root, slurm-wlm, munge, and a Python with h5py, numpy and matplotlib;
# exits 77 (skipped) when one of them is missing. SCRATCH_DIR gets the Slurm
# state and the study (SCRATCH_DIR/study); whatever an aborted earlier run
# left there is stopped and removed first. TWINFLOW_TEST_TIMEOUT (default 300)
# bounds the wait for the jobs, in seconds.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=SCRIPTDIR/slurm-test-lib.sh
source "$here/slurm-test-lib.sh"
slurm_study_prerequisites test_mfg_n_study "$@"

study_workdir TWINFLOW_MFG_N

# --- a bad size is rejected before anything runs ----------------------------------
study_rejects mfg-n-study TWINFLOW_MFG_N "50 x" "'x'" "$study"

slurm_test_start

# --- submit -------------------------------------------------------------------
export TWINFLOW_MFG_N="50 200 400"
study_submit_and_wait mfg-n-study "$study" --particles.count=5000 --grid.cells=64 --mfg.steps=20

# --- check the output -----------------------------------------------------------
if ! "$python" - "$here" "$outdir" "$TWINFLOW_MFG_N" <<'EOF'; then
import sys

import h5py

sys.path.insert(0, sys.argv[1])
from study_checks import check_files, check_tasks, finish, read_csv  # noqa: E402

outdir, sizes = sys.argv[2], [int(n) for n in sys.argv[3].split()]
errors = []
check_tasks(h5py, outdir, [{("mfg", "train"): str(n), ("mfg", "score"): "kernel", ("particles", "count"): "5000",
                            ("grid", "cells"): "64", ("mfg", "steps"): "20"} for n in sizes], errors)
check_files(outdir, ("mfg-n-study.csv", "mfg_n_metrics.png", "mfg_n_samples.png", "collect.log"), errors)
if errors:
    sys.exit(finish(outdir, errors))

rows = read_csv(outdir, "mfg-n-study.csv")
got = [int(r["n"]) for r in rows]
if got != sorted(sizes):
    errors.append(f"mfg-n-study.csv has the sizes {got}, expected one row for each of {sorted(sizes)}")
for r in rows:
    if float(r["empirical_memorised"]) != 1:
        errors.append(f"n = {r['n']}: the empirical score memorised {r['empirical_memorised']}, expected 1")
    if not float(r["kernel_memorised"]) < 0.5:
        errors.append(f"n = {r['n']}: the kernel score memorised {r['kernel_memorised']}, expected < 0.5")
    if not float(r["kernel_training_seconds"]) > 0:
        errors.append(f"n = {r['n']}: kernel training time {r['kernel_training_seconds']}")
sys.exit(finish(outdir, errors))
EOF
  study_show
  fail "output check failed for $outdir"
fi
echo "PASS: array job $array (n = ${TWINFLOW_MFG_N// /, }) and collector job $collector wrote $outdir in $((SECONDS - t0)) s"
