#!/usr/bin/env bash
# End-to-end test of the Monte Carlo sweep of the spin family
# (jobs/mc-study.sh submit) on a throwaway single-node Slurm
# (jobs/local-slurm.sh): the 3 x 4 cylinder at beta = 0.3 and 0.6 and the
# Fredkin chain L = 10 at c = 0.3 and 0.7, with short chains, become a job
# array of four tasks plus a collector job with afterok; the test waits for
# the collector and checks:
#   * one task-NNN.h5 per task with slurm_array_task_id = NNN and, in its
#     resolved configuration, the task's model, size and beta or c and the
#     command-line argument --spin.mc.steps=256;
#   * mc-study.csv with a row for every run, sampler (wolff only on the
#     cylinder), noise time and observable, every estimate within 5 standard
#     errors of its exact value; mc-learning.csv with every round of every
#     run; mc-study.h5 and mc-study.md; the four plots PNG files.
# Before that, `jobs/mc-study.sh check` with a bad beta must exit 2 with one
# line on stderr.
#
#   tests/slurm/test_mc_study.sh TWINFLOW_BINARY SCRATCH_DIR
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
slurm_study_prerequisites test_mc_study "$@"

study_workdir

# --- a bad beta is rejected before anything runs ----------------------------------
study_rejects mc-study TWINFLOW_MC_BETAS "0.3 -1" "'-1'" "$study"

slurm_test_start

# --- submit and wait ---------------------------------------------------------------
export TWINFLOW_MC_CYLINDERS=3x4 TWINFLOW_MC_BETAS="0.3 0.6" TWINFLOW_MC_FREDKIN=10 TWINFLOW_MC_C="0.3 0.7"
study_submit_and_wait mc-study "$study" --spin.mc.chains=16 --spin.mc.steps=256 --spin.mc.burn_in=50 \
  --spin.learn.samples=640 --spin.learn.rounds=2 --spin.learn.iterations=40 --spin.connected.times=0.1,1

# --- check the output -----------------------------------------------------------
if ! "$python" - "$here" "$outdir" <<'EOF'; then
import math
import sys

import h5py

sys.path.insert(0, sys.argv[1])
from study_checks import check_files, check_tasks, finish, read_csv  # noqa: E402

outdir = sys.argv[2]
errors = []
tasks = [("ising2d", "4", "beta", "0.3"), ("ising2d", "4", "beta", "0.6"),
         ("fredkin", "10", "c", "0.3"), ("fredkin", "10", "c", "0.7")]
check_tasks(h5py, outdir, [{("spin", "mode"): "monte_carlo", ("spin", "model"): model, ("spin", "L"): length,
                            ("spin", key): value, ("spin", "mc.steps"): "256"}
                           for model, length, key, value in tasks], errors)
check_files(outdir, ("mc-study.csv", "mc-learning.csv", "mc-study.h5", "mc-study.md", "collect.log",
                     "mc_ising2d.png", "mc_fredkin.png", "mc_acceptance.png", "mc_tau.png"), errors)
if not errors:
    rows = read_csv(outdir, "mc-study.csv")
    # 2-D: 3 observables x (metropolis, wolff, direct, 2 noise times); Fredkin: 3 x 4.
    expected = 2 * 3 * 5 + 2 * 3 * 4
    if len(rows) != expected:
        errors.append(f"mc-study.csv has {len(rows)} rows, expected {expected}")
    for r in rows:
        z = float(r["z"])
        if math.isnan(z) or abs(z) > 5:
            errors.append(f"mc-study.csv: {r['file']} {r['sampler']} {r['noise_time']} {r['observable']}: "
                          f"{r['mean']} vs exact {r['exact']} (z = {z})")
    learning = read_csv(outdir, "mc-learning.csv")
    if len(learning) != 4 * 2:
        errors.append(f"mc-learning.csv has {len(learning)} rows, expected 8 (4 runs, 2 rounds)")
    with open(f"{outdir}/collect.log") as f:
        log = f.read()
    if "| ising2d 3×4, β = 0.3 | wolff |" not in log:
        errors.append("collect.log lacks the comparison table")
sys.exit(finish(outdir, errors))
EOF
  study_show
  fail "output check failed for $outdir"
fi
echo "PASS: array job $array (4 tasks) and collector job $collector wrote $outdir in $((SECONDS - t0)) s"
