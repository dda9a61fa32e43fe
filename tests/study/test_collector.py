#!/usr/bin/python3
"""The collector of the KL study (jobs/kl_study.py collect) on synthetic runs.

Usage: test_collector.py SCRATCH

Writes HDF5 files following the /sampler_law contract with h5py, with KL
values that are exact powers of h (so the fitted slopes are known to round-off)
and bound, particle and affine values placed just inside and just outside
their acceptance limits, then runs the collector and checks:
  * exit status 0, warnings for the files it cannot use;
  * kl-study.csv: one row per run, every value as written, NaN where absent;
    it and slopes.csv with the mode of any new file (not 0600);
  * slopes.csv: the slope of each group to 1e-12, groups split by target and grid,
    no slope for a group with one step size;
  * the PASS/FAIL acceptance lines (slope, bound, particle, affine) and their count;
  * kl-study.h5 agrees with the CSV; both PNGs are valid PNG files;
  * running it again gives the same CSV (its own kl-study.h5 is not a run);
  * a directory with runs but no particle estimates still gets both plots;
  * exit status 2 and one line on stderr for an empty directory, a directory
    without /sampler_law files, and a missing directory.
"""
import csv
import math
import os
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from e2e_common import Checks, report  # noqa: E402

import h5py
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTOR = os.path.join(REPO, "jobs", "kl_study.py")
BIMODAL = "0.5:-1.5:0.25;0.5:1.5:0.25"
GAUSSIAN = "1:0.5:0.64"
H5 = (0.4, 0.2, 0.1, 0.05, 0.025)
Z = 4.5

check = Checks()


def write_run(path, family, scheme, target, horizon, steps, values, dim=1, cells=256):
    """One twinflow output file with a /sampler_law group; values maps the
    1-element datasets (kl, bound, ...) to their value."""
    config = (f"family = {family}\noutput = {path}\n\n[grid]\ndim = {dim}\ncells = {cells}\n\n"
              f"[time]\nend = {horizon:g}\n")
    with h5py.File(path, "w") as f:
        f.attrs["family"] = family
        f.attrs["config"] = config
        g = f.create_group("sampler_law")
        for k, v in (("family", family), ("scheme", scheme), ("target", target), ("bound_formula", "h I")):
            g.attrs[k] = v
        g.attrs["steps"] = np.int64(steps)
        g.attrs["h"] = horizon / steps
        g.attrs["horizon"] = float(horizon)
        g.attrs["fisher_information"] = 2.0
        g.attrs["confidence_z"] = Z
        for k, v in values.items():
            g.create_dataset(k, data=np.array([v], dtype=np.float64))
        g.create_dataset("density", data=np.ones(8))


def make_study(d):
    """Writes the runs; returns {file: (family, scheme, target, horizon, steps, values, dim, cells)}."""
    runs = {}

    def run(name, family, scheme, target, steps, values, horizon=6.0, dim=1, cells=256):
        write_run(os.path.join(d, name), family, scheme, target, horizon, steps, values, dim, cells)
        runs[name] = (family, scheme, target, horizon, steps, values, dim, cells)

    n = 0
    for h in H5:  # A: ou rel-ei bimodal, kl = 0.3 h under the bound, particle estimates
        kl = 0.3 * (6.0 / round(6.0 / h))
        binned = 0.8 * kl
        se = 0.01 * binned
        off = 4.6 if h == 0.025 else 4.4  # just inside z = 4.5 standard errors, the last one just outside
        run(f"task-{n:03d}.h5", "ou", "rel-ei", BIMODAL, round(6 / h),
            dict(kl=kl, bound=2 * h + 1e-6, l1=0.1 * h, binned_kl=binned, particle_binned_kl=binned + off * se,
                 particle_binned_kl_se=se))
        n += 1
    for h in H5:  # B: ou rel-ei Gaussian, kl = 0.05 h, affine agreement 0.9e-6 (and 1.1e-6 once)
        kl = 0.05 * (6.0 / round(6.0 / h))
        rel = 1.1e-6 if h == 0.4 else 0.9e-6
        run(f"task-{n:03d}.h5", "ou", "rel-ei", GAUSSIAN, round(6 / h),
            dict(kl=kl, bound=0.6 * h, l1=0.02 * h, kl_affine=kl * (1 + rel)))
        n += 1
    for h in (0.2, 0.1, 0.05):  # C: ou em, kl = 2 h^2, no bound: slope 2, no acceptance line
        hh = 6.0 / round(6.0 / h)
        run(f"task-{n:03d}.h5", "ou", "em", BIMODAL, round(6 / h), dict(kl=2 * hh * hh, l1=hh))
        n += 1
    for h in (0.4, 0.2, 0.1, 0.05):  # D: kinetic rel-ei, kl = 0.2 h^1.5: slope fails; kl = bound at h = 0.4 fails
        hh = 6.0 / round(6.0 / h)
        kl = 0.2 * hh ** 1.5
        run(f"task-{n:03d}.h5", "kinetic", "rel-ei", BIMODAL, round(6 / h),
            dict(kl=kl, bound=kl * (1 if h == 0.4 else 1.001), l1=hh, kl_x=0.5 * kl))
        n += 1
    run(f"task-{n:03d}.h5", "ou", "abs-ei", BIMODAL, 60, dict(kl=0.01, bound=0.2, l1=0.1))  # E: one step size
    n += 1
    for steps in (30, 60):  # F: like A but on a 2-D grid: a group of its own
        run(f"task-{n:03d}.h5", "ou", "rel-ei", BIMODAL, steps, dict(kl=0.7 * 6 / steps, bound=1.0, l1=0.1),
            dim=2, cells=64)
        n += 1
    # Files the collector must skip (with a warning) or not even look at.
    with open(os.path.join(d, "garbage.h5"), "wb") as f:
        f.write(b"not an HDF5 file\n")
    with h5py.File(os.path.join(d, "plain.h5"), "w") as f:
        f.create_dataset("time", data=np.zeros(2))
    shutil.copy(os.path.join(d, "task-000.h5"), os.path.join(d, "task-099.h5.partial"))
    with open(os.path.join(d, "notes.txt"), "w") as f:
        f.write("not a run\n")
    return runs


def collect(d):
    p = subprocess.run([sys.executable, COLLECTOR, "collect", d], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def valid_png(path):
    """PNG signature, an IHDR chunk with a non-zero size first, IEND last."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR" or data[-8:-4] != b"IEND":
        return False
    width, height = struct.unpack(">II", data[16:24])
    return width > 0 and height > 0


def group_name(family, scheme, target, dim=1, cells=256):
    return f"{family} {scheme} target={target} T=6 grid={dim}-D {cells} cells"


def check_study(d, runs):
    rc, out, err = collect(d)
    check(rc == 0, f"collect exit status {rc}, expected 0; stderr:\n{err}")
    for name in ("garbage.h5", "plain.h5"):
        check(f"skipped {name}" in err, f"no warning for {name} on stderr:\n{err}")
    for name in ("notes.txt", "partial", "kl-study.h5"):
        check(name not in err, f"{name} mentioned on stderr:\n{err}")

    # The collector's files get the mode of any new file (umask), not
    # mkstemp's 0600.
    umask = os.umask(0)
    os.umask(umask)
    for name in ("kl-study.csv", "slopes.csv"):
        mode = os.stat(os.path.join(d, name)).st_mode & 0o777
        check(mode == 0o666 & ~umask, f"{name} has mode {mode:o}, expected {0o666 & ~umask:o}")
    # kl-study.csv: every run, every value as written.
    header, rows = read_csv(os.path.join(d, "kl-study.csv"))
    check(header[:15] == ["file", "family", "scheme", "target", "horizon", "steps", "h", "kl", "bound", "l1",
                          "kl_affine", "binned_kl", "particle_binned_kl", "particle_binned_kl_se", "kl_x"],
          f"kl-study.csv header {header}")
    check(sorted(r["file"] for r in rows) == sorted(runs), f"kl-study.csv files {[r['file'] for r in rows]}")
    for r in rows:
        if r["file"] not in runs:
            continue
        family, scheme, target, horizon, steps, values, dim, cells = runs[r["file"]]
        want = dict(family=family, scheme=scheme, target=target, grid_cells=str(cells))
        for k, v in want.items():
            check(r[k] == v, f"{r['file']}: {k} = {r[k]!r}, expected {v!r}")
        nums = dict(horizon=horizon, steps=steps, h=horizon / steps, grid_dim=dim, confidence_z=Z,
                    fisher_information=2.0)
        for k in ("kl", "bound", "l1", "kl_affine", "binned_kl", "particle_binned_kl", "particle_binned_kl_se",
                  "kl_x"):
            nums[k] = values.get(k, math.nan)
        for k, v in nums.items():
            check(same(float(r[k]), float(v)), f"{r['file']}: {k} = {r[k]}, expected {v!r}")

    # slopes.csv: exact power laws give their exponent to round-off.
    _, slopes = read_csv(os.path.join(d, "slopes.csv"))
    expected = {("ou", "rel-ei", BIMODAL, "1", "256"): (1.0, math.log(0.3), 5),
                ("ou", "rel-ei", GAUSSIAN, "1", "256"): (1.0, math.log(0.05), 5),
                ("ou", "em", BIMODAL, "1", "256"): (2.0, math.log(2.0), 3),
                ("kinetic", "rel-ei", BIMODAL, "1", "256"): (1.5, math.log(0.2), 4),
                ("ou", "rel-ei", BIMODAL, "2", "64"): (1.0, math.log(0.7), 2)}
    got = {(s["family"], s["scheme"], s["target"], s["grid_dim"], s["grid_cells"]): s for s in slopes}
    check(sorted(got) == sorted(expected), f"slopes.csv groups {sorted(got)}, expected {sorted(expected)}")
    for key, (slope, log_c, n) in expected.items():
        s = got.get(key)
        if s is None:
            continue
        check(abs(float(s["slope"]) - slope) <= 1e-12, f"slope of {key} = {s['slope']}, expected {slope}")
        check(abs(float(s["log_c"]) - log_c) <= 1e-11, f"log_c of {key} = {s['log_c']}, expected {log_c}")
        check(int(s["step_sizes"]) == n, f"step_sizes of {key} = {s['step_sizes']}, expected {n}")

    # The acceptance lines.
    lines = [ln for ln in out.splitlines() if ln.startswith(("PASS", "FAIL"))]
    verdicts = {}
    for ln in lines:
        status, check_name, rest = ln.split(None, 2)
        verdicts[(check_name, rest.split(": ", 1)[0])] = status
    want = {("slope", group_name("ou", "rel-ei", BIMODAL)): "PASS",
            ("bound", group_name("ou", "rel-ei", BIMODAL)): "PASS",
            ("slope", group_name("ou", "rel-ei", GAUSSIAN)): "PASS",
            ("bound", group_name("ou", "rel-ei", GAUSSIAN)): "PASS",
            ("slope", group_name("kinetic", "rel-ei", BIMODAL)): "FAIL",
            ("bound", group_name("kinetic", "rel-ei", BIMODAL)): "FAIL"}
    for i in range(5):
        want[("particle", f"task-{i:03d}.h5")] = "FAIL" if i == 4 else "PASS"
        want[("affine", f"task-{5 + i:03d}.h5")] = "FAIL" if i == 0 else "PASS"
    check(verdicts == want, "acceptance lines differ:\n  got      " +
          "\n           ".join(f"{k}: {v}" for k, v in sorted(verdicts.items())) + "\n  expected " +
          "\n           ".join(f"{k}: {v}" for k, v in sorted(want.items())))
    check(len(lines) == len(want), f"{len(lines)} acceptance lines, expected {len(want)}")
    check("acceptance: 12 PASS, 4 FAIL" in out, "no line 'acceptance: 12 PASS, 4 FAIL' in the output")
    slope_line = next((ln for ln in lines if "slope" in ln.split()[1] and "kinetic" in ln), "")
    check("slope 1.5000 outside [0.8, 1.2]" in slope_line, f"kinetic slope line without its numbers: {slope_line!r}")
    bound_line = next((ln for ln in lines if ln.split()[1] == "bound" and "kinetic" in ln), "")
    check("kl >= bound at h=0.4 " in bound_line, f"kinetic bound line does not name h=0.4: {bound_line!r}")

    # kl-study.h5 agrees with the CSV.
    with h5py.File(os.path.join(d, "kl-study.h5"), "r") as f:
        files = [v.decode() if isinstance(v, bytes) else v for v in f["runs/file"][:]]
        check(files == [r["file"] for r in rows], "kl-study.h5 runs/file differs from the CSV")
        check(np.array_equal(f["runs/kl"][:], [float(r["kl"]) for r in rows]), "kl-study.h5 runs/kl differs")
        check(len(f["slopes/slope"]) == len(slopes), "kl-study.h5 slopes/slope has the wrong length")
        passed = f["acceptance/passed"][:]
        check(len(passed) == 16 and int(passed.sum()) == 12, f"kl-study.h5 acceptance/passed {passed}")

    for png in ("kl_vs_h.png", "particle_vs_exact.png"):
        path = os.path.join(d, png)
        check(os.path.isfile(path) and valid_png(path), f"{png} missing or not a valid PNG")
    leftovers = [n for n in os.listdir(d) if n.startswith(".")]
    check(not leftovers, f"temporary files left behind: {leftovers}")
    return out


def check_rejected(d, what, needle):
    rc, out, err = collect(d)
    lines = err.strip().splitlines()
    check(rc == 2, f"{what}: exit status {rc}, expected 2")
    check(len(lines) >= 1 and lines[-1].startswith("kl-study: ") and needle in lines[-1],
          f"{what}: last stderr line does not say '{needle}': {err!r}")
    check(sum(1 for ln in lines if not ln.startswith("kl-study: warning:")) == 1,
          f"{what}: expected one error line on stderr, got {err!r}")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    scratch = os.path.abspath(sys.argv[1])
    shutil.rmtree(scratch, ignore_errors=True)
    study = os.path.join(scratch, "study")
    os.makedirs(study)
    runs = make_study(study)
    first = check_study(study, runs)
    with open(os.path.join(study, "kl-study.csv")) as f:
        csv_first = f.read()
    check_study(study, runs)  # again, now with its own outputs in the directory
    with open(os.path.join(study, "kl-study.csv")) as f:
        check(f.read() == csv_first, "a second collect gives another kl-study.csv")

    # Runs without particle estimates: the particle plot still exists.
    quiet = os.path.join(scratch, "no-particles")
    os.makedirs(quiet)
    for steps in (30, 60):
        write_run(os.path.join(quiet, f"task-{steps:03d}.h5"), "ou", "em", BIMODAL, 6.0, steps,
                  dict(kl=1.0 / steps, bound=1.0, l1=0.1))
    rc, out, err = collect(quiet)
    check(rc == 0, f"no-particles: exit status {rc}; stderr {err!r}")
    check("acceptance: 0 PASS, 0 FAIL" in out, "no-particles: expected 'acceptance: 0 PASS, 0 FAIL'")
    for png in ("kl_vs_h.png", "particle_vs_exact.png"):
        check(valid_png(os.path.join(quiet, png)), f"no-particles: {png} missing or not a valid PNG")

    empty = os.path.join(scratch, "empty")
    os.makedirs(empty)
    check_rejected(empty, "empty directory", "no usable run")
    useless = os.path.join(scratch, "useless")
    os.makedirs(useless)
    shutil.copy(os.path.join(study, "plain.h5"), useless)
    check_rejected(useless, "no /sampler_law file", "no usable run")
    check_rejected(os.path.join(scratch, "missing"), "missing directory", "not a directory")

    if check.failures:
        print(first)
    return report("test_collector", check.failures)


if __name__ == "__main__":
    sys.exit(main())
