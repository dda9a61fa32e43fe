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

if [[ $# -ne 2 ]]; then
  echo "usage: $0 TWINFLOW_BINARY SCRATCH_DIR" >&2
  exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=SCRIPTDIR/slurm-test-lib.sh
source "$here/slurm-test-lib.sh"
slurm_study_prerequisites test_mc_study "$1" "$2"

study=$scratch/study
rm -rf -- "$study"
mkdir -p "$study"
export TWINFLOW=$binary
unset TWINFLOW_OUTDIR

# --- a bad beta is rejected before anything runs ----------------------------------
status=0
TWINFLOW_MC_BETAS="0.3 -1" bash "$repo/jobs/mc-study.sh" check >"$study/check.out" 2>"$study/check.err" || status=$?
((status == 2)) || fail "mc-study.sh check with TWINFLOW_MC_BETAS='0.3 -1': exit status $status, expected 2"
lines=$(wc -l <"$study/check.err")
((lines == 1)) || { cat "$study/check.err" >&2; fail "mc-study.sh check with a bad beta: $lines lines on stderr, expected 1"; }
grep -q "'-1'" "$study/check.err" || fail "mc-study.sh check does not name the bad entry: $(cat "$study/check.err")"
[[ ! -s $study/check.out ]] || fail "mc-study.sh check with a bad beta printed on stdout: $(cat "$study/check.out")"

slurm_test_start

# --- submit and wait ---------------------------------------------------------------
export TWINFLOW_MC_CYLINDERS=3x4 TWINFLOW_MC_BETAS="0.3 0.6" TWINFLOW_MC_FREDKIN=10 TWINFLOW_MC_C="0.3 0.7"
study_submit_and_wait mc-study "$study" --spin.mc.chains=16 --spin.mc.steps=256 --spin.mc.burn_in=50 \
  --spin.learn.samples=640 --spin.learn.rounds=2 --spin.learn.iterations=40 --spin.connected.times=0.1,1

# --- check the output -----------------------------------------------------------
if ! "$python" - "$outdir" <<'EOF'; then
import configparser
import csv
import math
import os
import sys

import h5py

outdir = sys.argv[1]
errors = []
tasks = [("ising2d", "4", "beta", "0.3"), ("ising2d", "4", "beta", "0.6"),
         ("fredkin", "10", "c", "0.3"), ("fredkin", "10", "c", "0.7")]


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


for i, (model, length, key, value) in enumerate(tasks):
    path = os.path.join(outdir, f"task-{i:03d}.h5")
    if not os.path.isfile(path):
        errors.append(f"{path} missing")
        continue
    with h5py.File(path, "r") as f:
        task = text(f.attrs.get("slurm_array_task_id", "")).strip()
        if task != str(i):
            errors.append(f"{path}: slurm_array_task_id = {task!r}, expected {i}")
        config = configparser.ConfigParser(interpolation=None)
        config.read_string(text(f.attrs.get("config", "")))
        for k, v in (("mode", "monte_carlo"), ("model", model), ("L", length), (key, value), ("mc.steps", "256")):
            got = config.get("spin", k, fallback=None)
            if got != v:
                errors.append(f"{path}: [spin] {k} = {got}, expected {v}")

for name in ("mc-study.csv", "mc-learning.csv", "mc-study.h5", "mc-study.md", "collect.log", "mc_ising2d.png",
             "mc_fredkin.png", "mc_acceptance.png", "mc_tau.png"):
    path = os.path.join(outdir, name)
    if not os.path.isfile(path):
        errors.append(f"{name} missing")
    elif name.endswith(".png"):
        with open(path, "rb") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n":
                errors.append(f"{name} is not a PNG file")
if not errors:
    with open(os.path.join(outdir, "mc-study.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    # 2-D: 3 observables x (metropolis, wolff, direct, 2 noise times); Fredkin: 3 x 4.
    expected = 2 * 3 * 5 + 2 * 3 * 4
    if len(rows) != expected:
        errors.append(f"mc-study.csv has {len(rows)} rows, expected {expected}")
    for r in rows:
        z = float(r["z"])
        if math.isnan(z) or abs(z) > 5:
            errors.append(f"mc-study.csv: {r['file']} {r['sampler']} {r['noise_time']} {r['observable']}: "
                          f"{r['mean']} vs exact {r['exact']} (z = {z})")
    with open(os.path.join(outdir, "mc-learning.csv"), newline="") as f:
        learning = list(csv.DictReader(f))
    if len(learning) != 4 * 2:
        errors.append(f"mc-learning.csv has {len(learning)} rows, expected 8 (4 runs, 2 rounds)")
    with open(os.path.join(outdir, "collect.log")) as f:
        log = f.read()
    if "| ising2d 3×4, β = 0.3 | wolff |" not in log:
        errors.append("collect.log lacks the comparison table")
for e in errors:
    print(f"{outdir}: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
  study_show
  fail "output check failed for $outdir"
fi
echo "PASS: array job $array (4 tasks) and collector job $collector wrote $outdir in $((SECONDS - t0)) s"
