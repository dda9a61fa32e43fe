#!/usr/bin/python3
"""End-to-end check of twinflow-plot on one output of each family.

Usage: check_plot.py BINARY PLOT SCRATCH

Runs a small case of every family (the sizes of the bad-input test) on 2
ranks, plus kac with the trained velocity, then twinflow-plot on each file,
and checks that every PNG it names exists, is a valid PNG that matplotlib
reads back, and is not blank (its pixels vary), that the grid families get
density.png, every family metrics.png, the families with diagnostics of
their own family.png, and that a file that is not a
twinflow output is refused with exit 2 and one line.
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bad_input import FAMILY_SMALL  # noqa: E402
from e2e_common import Checks, need_h5py, report, run_bounded, run_twinflow  # noqa: E402

h5py, np = need_h5py("check_plot")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.image  # noqa: E402

check = Checks()
TIMEOUT = 120
GRID_FAMILIES = {"ou", "kinetic", "kac", "free", "mfg"}
OWN_DIAGNOSTICS = {"kac", "free", "spin", "mfg"}  # ou and kinetic have only the twins' metrics


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    binary, plot = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    scratch = os.path.join(os.path.abspath(sys.argv[3]), "plot")
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    cases = [(family, [f"--family={family}", "--quiet"] + args) for family, args in FAMILY_SMALL.items()]
    cases.append(("kac-nn", ["--family=kac", "--quiet", "--grid.cells=64", "--particles.count=500", "--kac.steps=5",
                             "--kac.velocity=nn", "--kac.nn.width=8", "--kac.nn.iterations=20"]))
    for name, args in cases:
        path, _ = run_twinflow(check, binary, 2, scratch, name, args, TIMEOUT)
        if not path:
            continue
        code, out, err, _ = run_bounded([sys.executable, plot, path], scratch, TIMEOUT)
        if not check(code == 0, f"{name}: twinflow-plot exit {code}: {err.strip()[-400:]}"):
            continue
        written = [l for l in out.splitlines() if l.endswith(".png")]
        names = {os.path.basename(p) for p in written}
        check("metrics.png" in names, f"{name}: no metrics.png among {sorted(names)}")
        if name.split("-")[0] in GRID_FAMILIES:
            check("density.png" in names, f"{name}: no density.png among {sorted(names)}")
        if name.split("-")[0] in OWN_DIAGNOSTICS:
            check("family.png" in names, f"{name}: no family.png among {sorted(names)}")
        for p in written:
            p = os.path.join(scratch, p)
            with open(p, "rb") as f:
                if not check(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{name}: {p} is not a PNG"):
                    continue
            image = matplotlib.image.imread(p)
            check(image.ndim == 3 and min(image.shape[:2]) >= 200 and float(image[..., :3].std()) > 0.01,
                  f"{name}: {p} is blank or tiny ({image.shape}, std {float(image[..., :3].std()):.3g})")
        print(f"check_plot: {name}: {sorted(names)}")
    other = os.path.join(scratch, "other.h5")
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3.0)
    code, _, err, _ = run_bounded([sys.executable, plot, other], scratch, TIMEOUT)
    lines = [l for l in err.splitlines() if l.strip()]
    check(code == 2 and len(lines) == 1 and "not a twinflow output" in lines[0],
          f"a file that is not a twinflow output: exit {code}, stderr {err!r}")
    return report("check_plot", check.failures)


if __name__ == "__main__":
    sys.exit(main())
