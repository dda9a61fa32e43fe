#!/usr/bin/python3
"""End-to-end check of `twinflow diff A.h5 B.h5`.

Usage: check_diff.py BINARY SCRATCH

Runs one small ou configuration twice on 2 ranks, once with another seed
and once on 3 ranks, and checks:
  * the two identical runs: exit 0, "identical" (provenance such as run_id
    and created_utc is not compared);
  * another seed: exit 1, the histograms and the config key `seed` listed
    (not `output`, which names where a run writes);
  * 3 ranks against 2: equal within rtol 1e-10, atol 1e-12 (the PDE's
    reductions round differently), exit 0; with --all-attributes the rank
    count and the output key are differences;
  * a copy with one value moved by 1e-13 relative: exit 1 at rtol 0 naming
    the dataset, exit 0 at rtol 1e-12 reporting the accepted difference
    closest to the tolerance; with tolerances of their own: --exact=/pde/
    finds it again, --tolerance=/pde/density:1e-12:0 accepts it under
    --exact=/, --ignore-dataset=*density skips it; 3 ranks against 2 with the
    histograms exact;
  * bad input (a missing file, one file, a tolerance that is no number, an
    unknown option, a --tolerance without its parts or with an empty
    prefix, an empty --exact): exit 2 with one line naming the option.
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import Checks, need_h5py, report, run_twinflow, twinflow_diff  # noqa: E402

h5py, np = need_h5py("check_diff")
check = Checks()
TIMEOUT = 120
SMALL = ["--quiet", "--particles.count=3001", "--time.end=0.5", "--ou.steps=10", "--grid.cells=64",
         "--pde.steps=20"]


def diff(binary, scratch, *args):
    return twinflow_diff(binary, scratch, *args, timeout=TIMEOUT)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, scratch = os.path.abspath(sys.argv[1]), os.path.join(os.path.abspath(sys.argv[2]), "diff")
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    a, _ = run_twinflow(check, binary, 2, scratch, "a", SMALL, TIMEOUT)
    b, _ = run_twinflow(check, binary, 2, scratch, "b", SMALL, TIMEOUT)
    seed, _ = run_twinflow(check, binary, 2, scratch, "seed", SMALL + ["--seed=2"], TIMEOUT)
    three, _ = run_twinflow(check, binary, 3, scratch, "three", SMALL, TIMEOUT)
    if not (a and b and seed and three):
        return report("check_diff", check.failures)

    code, out, _ = diff(binary, scratch, a, b)
    check(code == 0 and "identical:" in out, f"two runs of one command: exit {code}\n{out}")

    code, out, _ = diff(binary, scratch, a, seed)
    check(code == 1 and "differs: /particles/histogram" in out and "key seed = 1 in A, 2 in B" in out
          and "key output" not in out,
          f"another seed: exit {code}\n{out}")

    code, out, _ = diff(binary, scratch, a, three, "--rtol=1e-10", "--atol=1e-12")
    check(code == 0 and ("identical:" in out or "equal within" in out), f"3 ranks against 2: exit {code}\n{out}")
    code, out, _ = diff(binary, scratch, a, three, "--rtol=1e-10", "--atol=1e-12", "--all-attributes")
    check(code == 1 and "/:nranks" in out and "key output" in out,
          f"3 ranks against 2 with --all-attributes: exit {code}\n{out}")

    moved = os.path.join(scratch, "moved.h5")
    shutil.copy(a, moved)
    with h5py.File(moved, "r+") as f:
        d = f["/pde/density"]
        v = d[...]
        i = np.unravel_index(np.argmax(v), v.shape)
        v[i] *= 1 + 1e-13
        d[...] = v
    code, out, _ = diff(binary, scratch, a, moved)
    check(code == 1 and "differs: /pde/density: 1 of" in out, f"one value moved: exit {code}\n{out}")
    code, out, _ = diff(binary, scratch, a, moved, "--rtol=1e-12")
    check(code == 0 and "equal within rtol 1e-12" in out and "closest to the tolerance" in out
          and "/pde/density" in out, f"one value moved, rtol 1e-12: exit {code}\n{out}")
    # Tolerances of their own: the moved PDE value exact again under its
    # prefix, accepted by a tolerance of its own, or not compared.
    code, out, _ = diff(binary, scratch, a, moved, "--rtol=1e-12", "--exact=/pde/")
    check(code == 1 and "differs: /pde/density: 1 of" in out, f"moved, --exact=/pde/: exit {code}\n{out}")
    code, out, _ = diff(binary, scratch, a, moved, "--exact=/", "--tolerance=/pde/density:1e-12:0")
    check(code == 0 and "tolerances of their own" in out, f"moved, --tolerance of its own: exit {code}\n{out}")
    code, out, _ = diff(binary, scratch, a, moved, "--ignore-dataset=*density")
    check(code == 0 and "identical:" in out, f"moved, --ignore-dataset=*density: exit {code}\n{out}")
    code, out, _ = diff(binary, scratch, a, three, "--rtol=1e-10", "--atol=1e-12", "--exact=/particles/",
                        "--exact=/reverse/histogram")
    check(code == 0, f"3 ranks against 2, histograms exact: exit {code}\n{out}")

    for name, args, key in [("missing file", [a, os.path.join(scratch, "none.h5")], "'diff'"),
                            ("one file", [a], "'diff'"),
                            ("not a number", [a, b, "--rtol=x"], "'--rtol'"),
                            ("unknown option", [a, b, "--reltol=1"], "'--reltol'"),
                            ("tolerance without its parts", [a, b, "--tolerance=/pde/:1e-3"], "'--tolerance'"),
                            ("tolerance not a number", [a, b, "--tolerance=/pde/:x:0"], "'--tolerance'"),
                            ("tolerance of an empty prefix", [a, b, "--tolerance=:1e-3:0"], "'--tolerance'"),
                            ("exact, empty prefix", [a, b, "--exact="], "'--exact'")]:
        code, out, err = diff(binary, scratch, *args)
        lines = [l for l in err.splitlines() if l.startswith("twinflow: error:")]
        check(code == 2 and len(lines) == 1 and key in lines[0], f"{name}: exit {code}, stderr:\n{err}")
    return report("check_diff", check.failures)


if __name__ == "__main__":
    sys.exit(main())
