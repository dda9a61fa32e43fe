#!/usr/bin/python3
"""End-to-end check that results do not depend on the number of MPI ranks.

Usage: rank_identity.py BINARY SCRATCH

Runs one small configuration on 1, 2 and 3 ranks and checks:
  * /particles/histogram and /reverse/histogram are bit-identical
    (particle randomness is keyed by seed and global particle id, never by rank);
  * /pde/density and /reverse/pde_density agree to 1e-10 relative
    (PDE reductions may round differently), and `twinflow diff` finds the
    whole files equal within rtol 1e-10, atol 1e-12;
  * a run with another seed gives a different /particles/histogram;
  * a run with fewer particles than ranks (a rank owns none) succeeds and
    still places every particle.

Exit status 0 when every check passes, 1 otherwise.
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import Checks, need_h5py, report, run_bounded  # noqa: E402

h5py, np = need_h5py("rank_identity")

TIMEOUT = 50
SMALL = ["--particles.count=5003", "--time.end=0.5", "--ou.steps=20", "--grid.cells=64", "--quiet"]
RANKS = [1, 2, 3]
BITWISE = ["/particles/histogram", "/reverse/histogram"]
ROUNDOFF = ["/pde/density", "/reverse/pde_density"]
RTOL = 1e-10

check = Checks()


def run(mpiexec, binary, nranks, output, extra, cwd):
    """Runs twinflow; returns the output path, or None (failure recorded)."""
    for p in (output, output + ".partial", os.path.splitext(output)[0] + ".xmf"):
        if os.path.exists(p):
            os.remove(p)
    cmd = [mpiexec, "--oversubscribe", "-n", str(nranks), binary, "run", f"--output={output}",
           "--overwrite"] + extra
    cmd += [o for o in SMALL if o.split("=")[0] not in {e.split("=")[0] for e in extra}]
    rc, out, err, secs = run_bounded(cmd, cwd, TIMEOUT)
    if rc is None:
        check(False, f"hang: no exit within {TIMEOUT} s: {' '.join(cmd)}")
        return None
    print(f"rank_identity: {nranks} rank(s) {' '.join(extra)} -> exit {rc} in "
          f"{secs:.1f} s")
    if not check(rc == 0, f"exit code {rc}: {' '.join(cmd)}\nstderr:\n{err}"):
        return None
    if not check(os.path.isfile(output), f"{output} was not written"):
        return None
    return output


def load(path, names):
    with h5py.File(path, "r") as f:
        return {n: f[n][...] for n in names if n in f}, int(f.attrs.get("nranks", -1))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: rank_identity.py BINARY SCRATCH")
    binary, scratch = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if not os.access(binary, os.X_OK):
        sys.exit(f"rank_identity: FAIL: {binary} is not an executable")
    mpiexec = os.environ.get("MPIEXEC") or shutil.which("mpiexec") or shutil.which("mpirun")
    if not mpiexec:
        sys.exit("rank_identity: FAIL: mpiexec not found")
    scratch = os.path.join(scratch, "rank_identity")
    os.makedirs(scratch, exist_ok=True)
    names = BITWISE + ROUNDOFF

    results = {}
    for n in RANKS:
        path = run(mpiexec, binary, n, os.path.join(scratch, f"ranks-{n}.h5"), [], scratch)
        if path:
            data, nranks = load(path, names)
            check(nranks == n, f"ranks-{n}.h5 says nranks = {nranks}")
            for name in names:
                if check(name in data, f"{name} missing in ranks-{n}.h5"):
                    check(not np.any(np.isnan(data[name])), f"{name} in ranks-{n}.h5 contains NaN")
            results[n] = data

    ref_n = RANKS[0]
    if ref_n in results:
        ref = results[ref_n]
        for n in RANKS[1:]:
            if n not in results:
                continue
            got = results[n]
            for name in BITWISE:
                if name in ref and name in got:
                    same = ref[name].shape == got[name].shape and np.array_equal(ref[name], got[name])
                    if not same and ref[name].shape == got[name].shape:
                        diff = np.argwhere(ref[name] != got[name])
                        detail = f"{len(diff)} entries differ, first at {tuple(diff[0])}"
                    else:
                        detail = f"shapes {ref[name].shape} vs {got[name].shape}"
                    check(same, f"{name} differs between {ref_n} and {n} ranks ({detail})")
            for name in ROUNDOFF:
                if name in ref and name in got:
                    if not check(ref[name].shape == got[name].shape,
                                 f"{name} shapes differ: {ref[name].shape} vs {got[name].shape}"):
                        continue
                    scale = np.max(np.abs(ref[name]))
                    err = np.max(np.abs(ref[name] - got[name]))
                    check(err <= RTOL * scale,
                          f"{name} differs between {ref_n} and {n} ranks by {err:.3e} "
                          f"(> {RTOL:g} x max {scale:.3e})")
                    print(f"rank_identity: {name}: max |{ref_n} ranks - {n} ranks| / max = {err / scale:.2e}")
            # The whole files, as a user compares them.
            files = [os.path.join(scratch, f"ranks-{k}.h5") for k in (ref_n, n)]
            rc, out, err, _ = run_bounded([mpiexec, "--oversubscribe", "-n", "1", binary, "diff", *files,
                                           f"--rtol={RTOL:g}", "--atol=1e-12"], scratch, TIMEOUT)
            check(rc == 0, f"twinflow diff of {ref_n} and {n} ranks: exit {rc}\n{out}{err}")

        # Another seed must change the particles.
        path = run(mpiexec, binary, 2, os.path.join(scratch, "seed-2.h5"), ["--seed=2"], scratch)
        if path:
            data, _ = load(path, ["/particles/histogram"])
            h = data.get("/particles/histogram")
            if check(h is not None, "/particles/histogram missing in seed-2.h5"):
                check(not np.array_equal(h, ref["/particles/histogram"]),
                      "--seed=2 gives the same /particles/histogram as --seed=1")

    # Fewer particles than ranks: a rank owns no particles.
    path = run(mpiexec, binary, 3, os.path.join(scratch, "two-particles.h5"), ["--particles.count=2"], scratch)
    if path:
        with h5py.File(path, "r") as f:
            dx = (float(f["grid"].attrs["upper"][0]) - float(f["grid"].attrs["lower"][0])) / int(f["grid"].attrs["shape"][0])
            for name in BITWISE:
                if check(name in f, f"{name} missing in two-particles.h5"):
                    h = f[name][...]
                    check(not np.any(np.isnan(h)), f"{name} in two-particles.h5 contains NaN")
                    counts = np.rint(h * 2 * dx).sum(axis=1)
                    # Two particles from a law well inside the box: both land on the grid.
                    check(np.all(counts == 2), f"{name} in two-particles.h5 holds {counts} particles, expected 2")

    return report("rank_identity", check.failures)


if __name__ == "__main__":
    sys.exit(main())
