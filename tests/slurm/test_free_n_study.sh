#!/usr/bin/env bash
# End-to-end test of the matrix-size study of the free family
# (jobs/free-n-study.sh submit) on a throwaway single-node Slurm
# (jobs/local-slurm.sh): three sizes N = 20, 40, 80 with about 8000
# eigenvalues each become a job array plus a collector job with afterok; the
# test waits for the collector and checks with h5py:
#   * one task-NNN.h5 per size with slurm_array_task_id = NNN and, in its
#     resolved configuration, the size, ceil(8000 / N) matrices, the study's
#     beta = 1 and the command-line arguments (--time.snapshots=3
#     --grid.cells=300);
#   * free-n-study.csv with one row per size, W1 smaller at the largest N than
#     at the smallest, a fitted rate p > 0 in free-n-rate.txt and in the
#     collector's log, and free_n_w1.png a PNG file.
# Before that, `jobs/free-n-study.sh check` with a bad entry in
# TWINFLOW_FREE_N must exit 2 with one line on stderr.
#
#   tests/slurm/test_free_n_study.sh TWINFLOW_BINARY SCRATCH_DIR
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
slurm_study_prerequisites test_free_n_study "$@"

study_workdir TWINFLOW_FREE_N TWINFLOW_FREE_POINTS

# --- a bad size is rejected before anything runs ----------------------------------
study_rejects free-n-study TWINFLOW_FREE_N "20 x" "'x'" "$study"

slurm_test_start

# --- submit -------------------------------------------------------------------
export TWINFLOW_FREE_N="20 40 80" TWINFLOW_FREE_POINTS=8000
study_submit_and_wait free-n-study "$study" --time.snapshots=3 --grid.cells=300

# --- check the output -----------------------------------------------------------
if ! "$python" - "$here" "$outdir" "$TWINFLOW_FREE_N" "$TWINFLOW_FREE_POINTS" <<'EOF'; then
import os
import re
import sys

import h5py

sys.path.insert(0, sys.argv[1])
from study_checks import check_files, check_tasks, finish, read_csv  # noqa: E402

outdir, sizes, points = sys.argv[2], [int(n) for n in sys.argv[3].split()], int(sys.argv[4])
errors = []
check_tasks(h5py, outdir, [{("free", "matrix_size"): str(n), ("free", "matrices"): str(-(-points // n)),
                            ("free", "beta"): "1", ("free", "steps"): "0", ("time", "snapshots"): "3",
                            ("grid", "cells"): "300"} for n in sizes], errors)
check_files(outdir, ("free-n-study.csv", "free-n-rate.txt", "free_n_w1.png", "collect.log"), errors)
if errors:
    sys.exit(finish(outdir, errors))

rows = read_csv(outdir, "free-n-study.csv")
got = [int(r["N"]) for r in rows]
if got != sorted(sizes):
    errors.append(f"free-n-study.csv has the sizes {got}, expected one row for each of {sorted(sizes)}")
elif not float(rows[-1]["w1"]) < float(rows[0]["w1"]):
    errors.append(f"W1 does not decrease: {rows[0]['w1']} at N = {got[0]}, {rows[-1]['w1']} at N = {got[-1]}")

rate = re.compile(r"^fitted rate p = (\S+) ", re.M)
for name in ("free-n-rate.txt", "collect.log"):
    with open(os.path.join(outdir, name)) as f:
        m = rate.search(f.read())
    if not m:
        errors.append(f"{name} has no line 'fitted rate p = ...'")
    elif not float(m.group(1)) > 0:
        errors.append(f"{name}: fitted rate p = {m.group(1)}, expected > 0")
sys.exit(finish(outdir, errors))
EOF
  study_show
  fail "output check failed for $outdir"
fi
grep -E '^fitted rate p = ' "$outdir/collect.log"
echo "PASS: array job $array (N = ${TWINFLOW_FREE_N// /, }) and collector job $collector wrote $outdir in $((SECONDS - t0)) s"
