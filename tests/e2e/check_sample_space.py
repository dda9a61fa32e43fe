#!/usr/bin/python3
"""End-to-end check of particles-only runs in more dimensions than a grid has
(the grid-free sample space).

Usage: check_sample_space.py BINARY NRANKS SCRATCH

Runs on NRANKS MPI ranks and checks with h5py and numpy only:

  * ou in d = 8 with one Gaussian N(m, diag(s^2)), exact scores, REL-EI: no
    grid and no PDE in the file, the sample space's axes, and at every output
    the forward particles against the closed-form marginal and the generated
    ones against the Gaussian affine recursion docs/ou.md (O7) (the exact law of
    the chain): the largest mean and covariance z-scores below 4.5 (over 8
    means and 36 covariances, familywise 3e-4 per output), mean
    log-likelihoods within 4.5 standard errors, the sliced W1 within 3 times
    its noise level; one table per twin on stdout;
  * kac in d = 4 with two point masses whose supports stay apart (c T = 0.5
    against a distance of 2, so the flow can return every sample to its own
    atom, docs/kac.md (C8)): the forward particles against the exact Kac process
    of another seed (moments and sliced W1, the same bounds), the Kac flow's
    samples at s = T against the data law, and the ou sampler side by side.

Exit status 0 when every check passes, 1 otherwise.
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import Checks, fresh_output, mpiexec, need_h5py, report, run_bounded  # noqa: E402

h5py, np = need_h5py("check_sample_space")

TIMEOUT = 180
Z = 4.5
check = Checks()


def run(binary, nranks, scratch, name, args):
    path = fresh_output(scratch, name)
    cmd = [mpiexec(), "--oversubscribe", "-n", str(nranks), binary, "run", f"--output={path}",
           "--pde.enabled=false"] + args
    code, out, err, secs = run_bounded(cmd, scratch, TIMEOUT)
    print(f"check_sample_space: {name} on {nranks} rank(s) -> exit {code} in {secs:.1f} s")
    if not check(code == 0, f"{name}: exit {code}: {err.strip()[-400:]}"):
        return None, out
    return path, out


def check_twin(name, f, group, has_density, rows=None):
    """The sample-space metrics of one twin at its outputs (all, or `rows`)."""
    g = f[group]
    rows = slice(None) if rows is None else rows
    for metric in ("mean_max_z", "covariance_max_z"):
        v = g[metric][...][rows]
        check(np.all(v < Z), f"{name}: {group}/{metric} {v} not below {Z}")
    w1, noise = g["sliced_w1"][...][rows], g["sliced_w1_noise"][...][rows]
    check(np.all(w1 <= 3 * noise), f"{name}: {group}/sliced_w1 {w1} above 3 x its noise {noise}")
    ll, ref, se = g["loglik"][...][rows], g["loglik_reference"][...][rows], g["loglik_se"][...][rows]
    if has_density:
        check(np.all(np.abs(ll - ref) <= Z * se), f"{name}: {group} log-likelihood {ll} vs exact {ref} ± {se}")
    check(g.attrs["space"] in (b"samples", "samples"), f"{name}: {group} space attribute")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    binary, nranks = os.path.abspath(sys.argv[1]), int(sys.argv[2])
    scratch = os.path.abspath(sys.argv[3])
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)

    d = 8
    mean = ",".join(f"{-0.7 + 0.2 * a:g}" for a in range(d))
    var = ",".join(f"{0.2 + 0.1 * a:g}" for a in range(d))
    path, out = run(binary, nranks, scratch, "ou-8d",
                    ["--grid.dim=8", f"--ou.target=1:{mean}:{var}", "--ou.steps=40", "--time.end=1.5",
                     "--particles.count=100000", "--quiet"])
    if path:
        with h5py.File(path, "r") as f:
            check("grid" not in f and "pde" not in f, f"ou-8d: a particles-only run wrote {list(f)}")
            check("samples" in f and int(f["/samples"].attrs["dim"]) == d, "ou-8d: /samples axes")
            check(f["/compare/mean_max_z"].shape == (11,), "ou-8d: /compare/mean_max_z has 11 entries")
            check_twin("ou-8d", f, "/compare", True)
            check_twin("ou-8d", f, "/compare/reverse", True)
            check(f["/compare/reverse"].attrs["axis"] in (b"/reverse/time", "/reverse/time"),
                  "ou-8d: the reverse twin names its axis")
        for heading in ("Forward: particles vs the closed-form law", "the Gaussian affine recursion"):
            check(heading in out, f"ou-8d: '{heading}' missing from stdout")

    path, out = run(binary, nranks, scratch, "kac-4d",
                    ["--family=kac", "--grid.dim=4", "--kac.data=0.5:-1:0;0.5:1:0", "--kac.steps=20",
                     "--kac.c=1", "--time.end=0.5", "--particles.count=40000", "--quiet"])
    if path:
        with h5py.File(path, "r") as f:
            check("grid" not in f and "pde" not in f, f"kac-4d: a particles-only run wrote {list(f)}")
            # t = 0 is the data itself, compared with exact data samples.
            check_twin("kac-4d", f, "/compare", False)
            # The flow from the exact X_T back to the data: at s = T the
            # samples sit on the atoms in the data's proportions.
            last = f["/compare/reverse/mean_max_z"].shape[0] - 1
            check_twin("kac-4d", f, "/compare/reverse", False, rows=[last])
            check("/compare/ou_reverse/mean_error" in f, "kac-4d: no ou side-by-side twin")
    return report(f"check_sample_space ({nranks} ranks)", check.failures)


if __name__ == "__main__":
    sys.exit(main())
