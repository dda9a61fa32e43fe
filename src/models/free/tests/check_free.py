#!/usr/bin/python3
"""End-to-end check of the `free` family.

Usage: check_free.py BINARY NRANKS SCRATCH

Runs the free twin on NRANKS MPI ranks twice and checks with h5py and numpy:

  default  (½(δ−1 + δ1), θ = ½, σ = 1, β = 2, T = 2, matrix-ou, the reverse
           flow, JKO): PDE mass; the PDE against the subordination law; the
           diagnostics (closed-form moments, the particles' finite-N second
           moment within 4.5 standard errors, the free de Bruijn identity
           dΣ*/dt = −(σ²/2)Φ* to 1 % where it is resolved, Σ* decreasing,
           free Cramér–Rao Φ·Var ≥ 1, Φ from ρ³ against Φ from J); atoms
           coming back in the generated points; JKO against the PDE;
  dyson    (β = 1, the Dyson SDE): the Dyson twin against matrix-ou, the
           relabelled steps counted, the generated atoms;
  sde      (β = 2, the reverse free SDE at matrix level, 200 steps): the
           generated points against the PDE at t_min and near the atoms.

At NRANKS = 3 the default run is repeated on one rank: the PDE density and
the eigenvalue histograms must be bit-identical. At NRANKS = 2 a small Dyson
run (with the matrix_ou stage beside it, the reverse flow and JKO) is
stopped by checkpoint.walltime at every step boundary it reaches in an
eighth of the uninterrupted run's time (at most 0.3 s) and resumed on 3 ranks until it finishes: its PDE, J, histograms and JKO
points must be bit-identical to the uninterrupted run's, every other dataset
equal to round-off (reductions follow the rank count).

Exit status 0 when every check passes, 1 otherwise (each failure is listed).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "tests", "e2e"))
from e2e_common import Checks, need_h5py, report, restart_cycle, run_twinflow  # noqa: E402

h5py, np = need_h5py("check_free")

TIMEOUT = 200
check = Checks()


def run(binary, nranks, scratch, name, args):
    return run_twinflow(check, binary, nranks, scratch, name, ["--family=free", "--quiet=true"] + args, TIMEOUT)


def check_default(path, out):
    with h5py.File(path, "r") as f:
        check(f.attrs["family"] in (b"free", "free"), "default: family attribute")
        t = f["/time"][...]
        check(np.isclose(t[-1], 2.0), f"default: T = {t[-1]}, expected 2")
        check(f["/pde/J"].shape == f["/pde/density"].shape, "default: /pde/J beside /pde/density")
        mass = f["/compare/pde_mass"][...]
        check(np.all(np.abs(mass - 1) < 1e-12), f"default: PDE mass {mass}")
        # The PDE from two atoms against the subordination law: first order
        # at least (test_free measures the order), h = 0.01 here.
        l1 = f["/compare/pde_exact_l1"][...]
        check(np.all(l1[t >= 0.4] < 3e-3), f"default: PDE-exact L1 {l1}")
        d = f["/diagnostics/free"]
        check(np.allclose(d["m2_exact"][...], 1.0, atol=1e-14), "default: m2 = 1 for the default data")
        m2p, se, m2n = d["m2_particles"][...], d["m2_particles_stderr"][...], d["m2_particles_finite_n_exact"][...]
        bad = np.abs(m2p - m2n) > 4.5 * se + 1e-14
        check(not np.any(bad), f"default: particle m2 {m2p[bad]} vs finite-N {m2n[bad]} (s.e. {se[bad]})")
        check(np.all(np.abs(d["m2_pde"][...] - 1) < 5e-4), f"default: PDE m2 {d['m2_pde'][...]}")
        check(np.all(np.abs(d["m4_pde"][...] - d["m4_exact"][...]) < 1e-2), "default: PDE m4 against the moment ODE")
        lhs, rhs = d["de_bruijn_dsigma_dt"][...], d["de_bruijn_minus_half_sigma2_phi_star"][...]
        inner = slice(1, len(t) - 1)
        # Resolved once the atoms have spread over many cells (t >= 0.4): to
        # 1 % of the dissipation, or 2e-5 where Φ* itself is that small (the
        # residual is the grid's, O(h²) with h = 0.01).
        res = np.abs(lhs[inner] - rhs[inner])
        late = t[inner] >= 0.4
        check(np.all((res <= 0.01 * np.abs(rhs[inner]) + 2e-5)[late]), f"default: de Bruijn residual {res} vs {rhs}")
        sigma = d["sigma_star_pde"][...]
        check(np.all(np.diff(sigma) < 0) and sigma[-1] < 1e-3, f"default: Σ* not decreasing to 0: {sigma}")
        cr = d["cramer_rao_pde"][...]
        check(np.all(cr >= 1 - 1e-6), f"default: Φ·Var below 1: {cr}")
        phi, phij = d["phi_pde"][...], d["phi_pde_from_J"][...]
        check(np.all(np.abs(phi[t >= 0.4] / phij[t >= 0.4] - 1) < 0.02), f"default: Φ from ρ³ {phi} vs from J {phij}")
        # 20 000 generated points: a binomial standard error of 0.0035 per
        # atom, and eigenvalues are more regular than independent points, so
        # 0.01 is beyond 2.8 of those.
        gen, weight = d["atoms/mass_generated"][...], d["atoms/weight"][...]
        check(np.all(np.abs(gen - weight) < 0.01), f"default: generated mass near the atoms {gen} vs {weight}")
        w1 = f["/compare/reverse/w1"][...]
        check(w1[-1] < 0.01, f"default: generated W1 to the PDE at t_min {w1[-1]}")
        jko = f["/compare/jko/w1_pde"][...]
        check(np.all(jko < 0.015), f"default: JKO W1 to the PDE {jko}")
        check(f["/jko/points"].shape == (len(t), 100), f"default: /jko/points {f['/jko/points'].shape}")
    for title in ("Forward: eigenvalues", "Reverse: the reverse flow", "Free diagnostics", "Atoms come back",
                  "JKO (minimising movements"):
        check(title in out, f"default: '{title}' not printed")


def check_dyson(path, out):
    with h5py.File(path, "r") as f:
        dy = f["/compare/dyson"]
        l1, floor = dy["l1"][...], dy["noise_floor_l1"][...]
        # Both histograms are noisy: the expected L1 between two independent
        # ones is about √2 floors; 2.5 floors is 1.8 times that.
        check(np.all(l1[1:] < 2.5 * floor[1:]), f"dyson: L1 to matrix-ou {l1} vs floor {floor}")
        check(np.all(dy["w1"][1:] < 0.02), f"dyson: W1 to matrix-ou {dy['w1'][...]}")
        d = f["/diagnostics/free"]
        # Matrix steps relabelled at the deepest halving: measured 1 % at
        # β = 1 (a close pair's gap is a 2-dimensional Bessel process).
        matrix_steps = 60 * 100 * 4
        relabelled = d["dyson_relabelled_steps"][...]
        check(relabelled[-1] < 0.05 * matrix_steps, f"dyson: {relabelled[-1]} of {matrix_steps} steps relabelled")
        gen, weight = d["atoms/mass_generated"][...], d["atoms/weight"][...]
        check(np.all(np.abs(gen - weight) < 0.02), f"dyson: generated mass near the atoms {gen} vs {weight}")
        check("/free/matrix_ou/histogram" in f, "dyson: the matrix-ou histogram")
    check("Dyson SDE against matrix-ou" in out, "dyson: the Dyson twin's table")


def check_sde(path, out):
    with h5py.File(path, "r") as f:
        w1 = f["/compare/reverse/w1"][...]
        # Euler–Maruyama (weak order 1) at 200 steps, N = 40: measured 0.031.
        check(w1[-1] < 0.05, f"sde: generated W1 to the PDE at t_min {w1[-1]}")
        d = f["/diagnostics/free"]
        gen, weight = d["atoms/mass_generated"][...], d["atoms/weight"][...]
        check(np.all(np.abs(gen - weight) < 0.03), f"sde: generated mass near the atoms {gen} vs {weight}")
    check("the reverse free SDE at matrix level" in out, "sde: the reverse table")


BIT_IDENTICAL = ("/pde/density", "/pde/J", "/particles/histogram", "/reverse/histogram", "/jko/points")


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    binary, nranks, scratch = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.makedirs(scratch, exist_ok=True)
    path, out = run(binary, nranks, scratch, "default", [])
    if path:
        check_default(path, out)
    dyson, out = run(binary, nranks, scratch, "dyson",
                     ["--free.sampler=dyson", "--free.beta=1", "--free.matrices=60", "--free.matrix_size=40",
                      "--free.dyson_steps=100", "--free.jko=false", "--time.snapshots=5"])
    if dyson:
        check_dyson(dyson, out)
    sde, out = run(binary, nranks, scratch, "sde",
                   ["--free.reverse=sde", "--free.matrices=60", "--free.matrix_size=40", "--free.steps=200",
                    "--free.jko=false", "--time.snapshots=5"])
    if sde:
        check_sde(sde, out)
    if path and nranks == 3:
        one, _ = run(binary, 1, scratch, "default-one-rank", [])
        if one:
            with h5py.File(path, "r") as a, h5py.File(one, "r") as b:
                for name in ("/pde/density", "/pde/J", "/particles/histogram", "/reverse/histogram", "/jko/points"):
                    check(np.array_equal(a[name][...], b[name][...]), f"{name} differs between {nranks} ranks and 1")
    if nranks == 2:
        small = ["--free.matrices=20", "--free.matrix_size=20", "--free.steps=20", "--free.jko_points=20",
                 "--free.sampler=dyson", "--free.dyson_steps=20"]
        restart_cycle(check, binary, "free", nranks, scratch, "restart-cycle", small, BIT_IDENTICAL, TIMEOUT)
    return report("check_free", check.failures)


if __name__ == "__main__":
    sys.exit(main())
