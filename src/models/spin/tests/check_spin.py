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
  ising2d  (3 × 4 cylinder, jump): observables and the Onsager line;
  monte_carlo  (spin.mode=monte_carlo on the 3 × 4 cylinder at β = 0.44 and
           the Fredkin chain L = 12 at c = 0.3): every sampler's estimates
           (Metropolis, Wolff, direct, connected at two noise times) within
           4.5 blocking standard errors of the exact values, training lowers
           the NLL every round and ends within 0.15 of the exact NLL per
           sample, the last round's direct proposals mostly accepted.

At NRANKS = 3 the ising1d and the monte_carlo ising2d runs are repeated on
one rank: the master equation solutions, the histograms and every Monte
Carlo result but the measured seconds must be bit-identical. At NRANKS = 2
a small twin run and the monte_carlo Fredkin run are interrupted by
checkpoint.walltime and resumed on 3 ranks until they finish, and must
agree with the uninterrupted runs.

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


MC = ["--spin.mode=monte_carlo", "--spin.bond=4", "--spin.mc.chains=16", "--spin.mc.steps=1024",
      "--spin.mc.burn_in=100", "--spin.learn.samples=1600", "--spin.learn.rounds=2", "--spin.learn.iterations=60",
      "--spin.connected.times=0.1,1"]
MC_ISING2D = MC + ["--spin.model=ising2d", "--spin.width=3", "--spin.L=4", "--spin.beta=0.44"]
MC_FREDKIN = MC + ["--spin.model=fredkin", "--spin.L=12", "--spin.c=0.3"]
TIMINGS = ("seconds", "ess_per_second")


def check_monte_carlo(case, path, out):
    with h5py.File(path, "r") as f:
        mc = f["/monte_carlo"]
        samplers = [s for s in ("metropolis", "wolff", "direct", "connected") if s in mc]
        check(len(samplers) == (4 if case == "ising2d" else 3), f"mc {case}: samplers {samplers}")
        for sampler in samplers:
            for name in f["/monte_carlo/exact"]:
                if name == "profile":
                    continue
                exact = f["/monte_carlo/exact/" + name][0]
                o = mc[sampler][name]
                mean, se = o["mean"][...], o["standard_error"][...]
                # A constant observable (m of a Dyck path) has no spread.
                bad = np.where(se > 0, np.abs(mean - exact) > Z * se, np.abs(mean - exact) > 1e-12)
                check(not np.any(bad), f"mc {case}: {sampler} {name} {mean} ± {se} vs exact {exact}")
            acc = mc[sampler]["acceptance"][...]
            check(np.all((acc > 0) & (acc <= 1)), f"mc {case}: {sampler} acceptance {acc}")
        learn = mc["learn"]
        before, after, exact = learn["nll_before"][...], learn["nll_after"][...], learn["nll_exact"][...]
        check(np.all(after < before), f"mc {case}: training did not lower the NLL: {before} -> {after}")
        check(abs(after[-1] - exact[-1]) < 0.15, f"mc {case}: NLL {after[-1]} vs exact {exact[-1]}")
        check(learn["acceptance"][-1] > 0.5, f"mc {case}: last round's direct acceptance {learn['acceptance'][-1]}")
        if case == "fredkin":
            series = mc["metropolis/height_centre/series"][...]
            check(np.all(series >= 0), "mc fredkin: a Metropolis chain left the Dyck paths")
    check("Monte Carlo of" in out and "Learning P_θ" in out, f"mc {case}: report tables")


def monte_carlo_datasets(f):
    names = []
    f["/monte_carlo"].visititems(lambda n, o: names.append("/monte_carlo/" + n)
                                 if isinstance(o, h5py.Dataset) and not n.endswith(TIMINGS) else None)
    return names


CASES = [("ising1d", ISING, check_ising),
         ("fredkin", ["--spin.model=fredkin", "--spin.L=8", "--spin.c=0.7", "--spin.reverse=denoise",
                      "--particles.count=4000"], check_fredkin),
         ("ising2d", ["--spin.model=ising2d", "--spin.width=3", "--spin.L=4", "--spin.beta=0.3",
                      "--particles.count=2000", "--time.snapshots=5"], check_ising2d),
         ("mc-ising2d", MC_ISING2D, lambda path, out: check_monte_carlo("ising2d", path, out)),
         ("mc-fredkin", MC_FREDKIN, lambda path, out: check_monte_carlo("fredkin", path, out))]


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
    if outputs["mc-ising2d"] and nranks == 3:
        one, _ = run(binary, 1, scratch, "mc-ising2d-one-rank", MC_ISING2D)
        if one:
            with h5py.File(outputs["mc-ising2d"], "r") as a, h5py.File(one, "r") as b:
                names = monte_carlo_datasets(a)
                check(len(names) > 40, f"mc: only {len(names)} datasets compared")
                for name in names:
                    check(np.array_equal(a[name][...], b[name][...], equal_nan=True),
                          f"{name} differs between {nranks} ranks and 1")
    if nranks == 2:
        restart_cycle(check, binary, "spin", nranks, scratch, "restart-cycle",
                      ["--spin.L=8", "--particles.count=3000", "--pde.steps=2000"], BIT_IDENTICAL, TIMEOUT)
        if outputs["mc-fredkin"]:
            with h5py.File(outputs["mc-fredkin"], "r") as f:
                identical = tuple(monte_carlo_datasets(f))
            restart_cycle(check, binary, "spin", nranks, scratch, "mc-restart-cycle", MC_FREDKIN, identical,
                          TIMEOUT, TIMINGS)
    return report("check_spin", check.failures)


if __name__ == "__main__":
    sys.exit(main())
