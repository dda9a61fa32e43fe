#!/usr/bin/python3
"""End-to-end check of the `spin` family.

Usage: check_spin.py BINARY NRANKS SCRATCH

Runs small spin twins on NRANKS MPI ranks and checks with h5py and numpy:

  ising1d  (L = 10, the reverse jump process): the master equation against
           the flip kernel and the MPS, the reverse master equation against
           P_{T−s} and P_0; the samples' TV and KL on all 1024 states against
           those of as many exact samples; every observable within 4.5
           standard errors of its exact value (two-sided, about 1 in 150 000
           per check by chance); the magnetisation law within its floor;
  fredkin  (L = 8, Bayes denoising): the partition function against the
           first-return recursion, observables, generated paths on Dyck paths;
  ising2d  (3 × 4 cylinder, jump): observables and the Onsager line.

At NRANKS = 3 the ising1d run is repeated on one rank: the master equation
solutions and the histograms must be bit-identical. At NRANKS = 2 a small
run is interrupted by checkpoint.walltime and resumed on 3 ranks until it
finishes, and must agree with the uninterrupted run.

Exit status 0 when every check passes, 1 otherwise (each failure is listed).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "tests", "e2e"))
from e2e_common import Checks, need_h5py, report, restart_cycle, run_twinflow  # noqa: E402

h5py, np = need_h5py("check_spin")

TIMEOUT = 200
Z = 4.5
check = Checks()
ISING = ["--spin.L=10", "--particles.count=4000"]
BIT_IDENTICAL = ("/pde/probability", "/reverse/pde/probability", "/particles/histogram", "/reverse/histogram")


def run(binary, nranks, scratch, name, args):
    return run_twinflow(check, binary, nranks, scratch, name, ["--family=spin", "--quiet=true"] + args, TIMEOUT)


def check_observables(f, case):
    for stage in ("exact", "forward", "exact_reverse", "reverse"):
        group = f["/diagnostics/spin/" + stage]
        for name in group:
            o = group[name]
            sample, se, exact = o["sample"][...], o["stderr"][...], o["exact"][...]
            z = np.abs(sample - exact) / np.where(se > 0, se, np.inf)
            # A constant observable (the magnetisation of Dyck paths at t = 0)
            # has no spread: then the sample must equal the exact value.
            bad = (z > Z) | ((se == 0) & (np.abs(sample - exact) > 1e-12))
            check(not np.any(bad), f"{case}: {stage} {name}: sample {sample[bad]} vs exact {exact[bad]} (s.e. {se[bad]})")


def check_ising(path, out):
    with h5py.File(path, "r") as f:
        d = f["/diagnostics/spin"]
        # RK4 at 200 steps: the local error of the fastest modes, far below
        # the sampling floors; kernel and MPS are the same law to round-off.
        check(np.all(d["pde_l1_to_kernel"][...] < 1e-6), f"ising1d: ME vs kernel {d['pde_l1_to_kernel'][...]}")
        check(np.all(d["kernel_l1_to_mps"][...] < 1e-13), f"ising1d: kernel vs MPS {d['kernel_l1_to_mps'][...]}")
        rev = d["reverse_pde_l1_to_exact"]
        check(np.all(rev[...] < 1e-5), f"ising1d: reverse ME vs P_(T-s) {rev[...]}")
        check(rev.attrs["l1_to_data_at_end"] < 1e-5, "ising1d: reverse ME at s = T against P_0")
        mass = f["/pde/probability"][...].sum(axis=1)
        check(np.all(np.abs(mass - 1) < 1e-12), f"ising1d: ME mass {mass}")
        # 4000 samples on 1024 states: TV and KL sit at the floor of as many
        # exact samples; their spread between two sample sets is about 0.01.
        for twin, floor in (("/compare", "/compare/exact"), ("/compare/reverse", "/compare/exact_reverse")):
            tv, tv0 = f[twin + "/tv"][...], f[floor + "/tv"][...]
            kl, kl0 = f[twin + "/kl"][...], f[floor + "/kl"][...]
            check(np.all(np.abs(tv - tv0) < 0.04), f"ising1d: {twin} TV {tv} vs exact samples {tv0}")
            check(np.all(np.abs(kl - kl0) < 0.1), f"ising1d: {twin} KL {kl} vs exact samples {kl0}")
        for twin in ("forward_magnetisation", "reverse_magnetisation"):
            l1, floor = f[f"/compare/{twin}/l1"][...], f[f"/compare/{twin}/noise_floor_l1"][...]
            check(np.all(l1 < 2 * floor + 0.01), f"ising1d: {twin} L1 {l1} vs floor {floor}")
        check_observables(f, "ising1d")
    check("Closed forms: log Z" in out and "Master equation on all 1024 states" in out, "ising1d: report lines")


def check_fredkin(path, out):
    with h5py.File(path, "r") as f:
        lz = f["/diagnostics/spin/closed_form/log_z"][...]
        check(abs(lz[0] - lz[1]) < 1e-12, f"fredkin: log Z {lz[0]} (MPS) vs {lz[1]} (recursion)")
        check_observables(f, "fredkin")
        # Denoising to t_min = 1e-3·T: the generated paths are Dyck paths but
        # for a fraction about L γ t_min; 4000 of them end at height 0.
        h = f["/reverse/histogram"][...][-1]
        states = np.arange(h.size)
        bits = (states[:, None] >> np.arange(7, -1, -1)) & 1
        heights = np.cumsum(2 * bits - 1, axis=1)
        dyck = np.all(heights >= 0, axis=1) & (heights[:, -1] == 0)
        check(h[~dyck].sum() / h.sum() < 0.02, f"fredkin: generated mass off Dyck paths {h[~dyck].sum() / h.sum()}")
    check("first-return recursion" in out, "fredkin: closed-form line")


def check_ising2d(path, out):
    with h5py.File(path, "r") as f:
        check_observables(f, "ising2d")
        u = f["/diagnostics/spin/closed_form/energy_per_site"][...]
        # A 3 × 4 cylinder at β = 0.3 is within a percent of the infinite
        # lattice (its short periodic rings correlate a little more).
        check(abs(u[0] - u[1]) < 0.02 * abs(u[1]), f"ising2d: the cylinder's energy {u[0]} vs Onsager's {u[1]}")
    check("Onsager" in out, "ising2d: Onsager line")


CASES = [("ising1d", ISING, check_ising),
         ("fredkin", ["--spin.model=fredkin", "--spin.L=8", "--spin.c=0.7", "--spin.reverse=denoise",
                      "--particles.count=4000"], check_fredkin),
         ("ising2d", ["--spin.model=ising2d", "--spin.width=3", "--spin.L=4", "--spin.beta=0.3",
                      "--particles.count=2000", "--time.snapshots=5"], check_ising2d)]


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    binary, nranks, scratch = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.makedirs(scratch, exist_ok=True)
    outputs = {}
    for name, args, checker in CASES:
        outputs[name], out = run(binary, nranks, scratch, name, args)
        if outputs[name]:
            checker(outputs[name], out)
    path = outputs["ising1d"]
    if path and nranks == 3:
        one, _ = run(binary, 1, scratch, "ising1d-one-rank", ISING)
        if one:
            with h5py.File(path, "r") as a, h5py.File(one, "r") as b:
                for name in BIT_IDENTICAL:
                    check(np.array_equal(a[name][...], b[name][...]), f"{name} differs between {nranks} ranks and 1")
    if nranks == 2:
        restart_cycle(check, h5py, np, binary, "spin", nranks, scratch, "restart-cycle",
                      ["--spin.L=8", "--particles.count=3000", "--pde.steps=2000"], BIT_IDENTICAL, TIMEOUT)
    return report("check_spin", check.failures)


if __name__ == "__main__":
    sys.exit(main())
