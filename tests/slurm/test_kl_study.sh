#!/usr/bin/env bash
# End-to-end test of the KL study (jobs/kl-study.sh submit) on a throwaway
# single-node Slurm (jobs/local-slurm.sh): a four-row table (1-D ou REL-EI,
# Gaussian data at N = 8, 16, 32 and one bimodal row with a row override)
# becomes a job array plus a collector job with afterok; the test waits for
# the collector and checks with h5py:
#   * one task-NNN.h5 per row with /sampler_law/kl and slurm_array_task_id = NNN,
#     the command-line arguments (--grid.cells=128 --particles.count=20000)
#     and the row override (--seed=7) in its resolved configuration;
#   * kl-study.csv with every row, slopes.csv with the Gaussian group,
#     kl-study.h5, both PNGs, and the acceptance lines in the collector's log.
#
#   tests/slurm/test_kl_study.sh TWINFLOW_BINARY SCRATCH_DIR
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
slurm_study_prerequisites test_kl_study "$@"
slurm_test_start

# --- submit -------------------------------------------------------------------
study=$scratch/study
rm -rf -- "$study"
mkdir -p "$study"
table=$study/tiny.table
cat >"$table" <<'EOF'
# family scheme steps time_end target [--key=value ...]
ou  rel-ei   8  2  1:0.5:0.64
ou  rel-ei  16  2  1:0.5:0.64
ou  rel-ei  32  2  1:0.5:0.64
ou  rel-ei  16  2  0.5:-1.5:0.25;0.5:1.5:0.25  --seed=7
EOF
rows=4
export TWINFLOW=$binary
unset TWINFLOW_OUTDIR TWINFLOW_PARTICLES
study_submit_and_wait kl-study "$study" "$table" --grid.cells=128 --particles.count=20000

# --- check the output -----------------------------------------------------------
if ! "$python" - "$outdir" "$rows" <<'EOF'; then
import csv
import os
import sys

import h5py

outdir, rows = sys.argv[1], int(sys.argv[2])
errors = []


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


for i in range(rows):
    path = os.path.join(outdir, f"task-{i:03d}.h5")
    if not os.path.isfile(path):
        errors.append(f"{path} missing")
        continue
    with h5py.File(path, "r") as f:
        kl = f.get("sampler_law/kl")
        if not isinstance(kl, h5py.Dataset) or kl.shape != (1,):
            errors.append(f"{path}: no 1-element dataset /sampler_law/kl")
        task = text(f.attrs.get("slurm_array_task_id", "")).strip()
        if task != str(i):
            errors.append(f"{path}: slurm_array_task_id = {task!r}, expected {i}")
        config = text(f.attrs.get("config", ""))
        wanted = ["cells = 128", "count = 20000"] + (["seed = 7"] if i == 3 else [])
        for line in wanted:
            if line not in config.splitlines():
                errors.append(f"{path}: '{line}' not in the resolved configuration")

with open(os.path.join(outdir, "kl-study.csv"), newline="") as f:
    files = sorted(r["file"] for r in csv.DictReader(f))
if files != [f"task-{i:03d}.h5" for i in range(rows)]:
    errors.append(f"kl-study.csv lists {files}")
with open(os.path.join(outdir, "slopes.csv"), newline="") as f:
    targets = [r["target"] for r in csv.DictReader(f)]
if targets != ["1:0.5:0.64"]:
    errors.append(f"slopes.csv has groups for targets {targets}, expected the Gaussian one only")
for name in ("kl-study.h5", "kl_vs_h.png", "particle_vs_exact.png"):
    path = os.path.join(outdir, name)
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        errors.append(f"{path} missing or empty")
for name in ("kl_vs_h.png", "particle_vs_exact.png"):
    with open(os.path.join(outdir, name), "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            errors.append(f"{name} is not a PNG file")
with open(os.path.join(outdir, "collect.log")) as f:
    log = f.read()
if "acceptance: " not in log:
    errors.append("collect.log has no acceptance summary")
affine = [ln for ln in log.splitlines() if ln.startswith(("PASS  affine", "FAIL  affine"))]
if len(affine) != 3:
    errors.append(f"collect.log has {len(affine)} affine acceptance lines, expected 3 (the Gaussian rows)")

for e in errors:
    print(f"{outdir}: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
  study_show
  fail "output check failed for $outdir"
fi
grep -E '^(PASS|FAIL) ' "$outdir/collect.log" || true
echo "PASS: array job $array ($rows tasks) and collector job $collector wrote $outdir in $((SECONDS - t0)) s"
