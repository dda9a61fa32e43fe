#!/usr/bin/python3
"""End-to-end check of the score-diffusion families' twin runs and of the
`sampler_law` report.

Usage: check_score_twins.py BINARY NRANKS SCRATCH

Runs on NRANKS MPI ranks and checks with h5py and numpy only:

  * kinetic, bimodal data, PDE + particles on the (x, v) grid: the layout
    (2-D fields, /sampler_law/density and x_marginal), PDE mass to 1e-11,
    PDE against the closed form (L1 < 6e-3 at 128^2 cells), and the forward
    twin: the particle histogram's L1 distance to the PDE within 1.3 times
    the histogram noise floor plus the PDE's own error, at every snapshot;
  * sampler_law with one-Gaussian data for ou (1-D and 2-D) and kinetic: the
    grid-exact KL against the closed-form affine recursion to 1e-6 relative
    (the acceptance figure), KL under the bound for REL-EI, and the particles'
    binned KL within confidence_z standard errors of the grid law's;
  * the sampler-law lines on stdout;
  * a grid option that changes the grid as built (-da_refine 1: 511 cells
    instead of 256) with the score from the PDE: every field has the built
    grid's cells, and the generated particles are as close to the PDE density
    as those of the exact score on the same grid (reverse L1 within 0.01 at
    every output; a score read with the configured grid's strides is far off).

Exit status 0 when every check passes, 1 otherwise (each failure is listed).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import Checks, need_h5py, report, run_twinflow  # noqa: E402

h5py, np = need_h5py("check_score_twins")

TIMEOUT = 180
PARTICLES = 200000
BIMODAL = "0.5:-1.5:0.25;0.5:1.5:0.25"
check = Checks()


def run(binary, nranks, scratch, name, args):
    return run_twinflow(check, binary, nranks, scratch, name,
                        ["--quiet=true", f"--particles.count={PARTICLES}"] + args, TIMEOUT)


def check_sampler_law(name, f, gaussian, scheme):
    law = f["/sampler_law"]
    kl, bound = law["kl"][0], law["bound"][0]
    check(np.isfinite(kl) and kl > 0, f"{name}: sampler-law KL {kl}")
    if scheme == "rel-ei":
        check(kl < bound, f"{name}: KL {kl} above the bound {bound}")
    if gaussian:
        exact = law["kl_affine"][0]
        check(abs(kl - exact) <= 1e-6 * exact, f"{name}: grid KL {kl!r} vs affine recursion {exact!r}")
    z = law.attrs["confidence_z"]
    grid, part, se = law["binned_kl"][0], law["particle_binned_kl"][0], law["particle_binned_kl_se"][0]
    check(abs(part - grid) <= z * se, f"{name}: particle binned KL {part} vs grid {grid} (se {se}, z {z})")
    check(law.attrs["lost_mass"] < 1e-12, f"{name}: mass lost at the box faces {law.attrs['lost_mass']}")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    binary, nranks, scratch = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.makedirs(scratch, exist_ok=True)

    # The kinetic twin with the sampler law of its REL-EI chain.
    name = "kinetic-twin"
    path, out = run(binary, nranks, scratch, name,
                    ["--family=kinetic", f"--kinetic.target={BIMODAL}", "--grid.cells=128", "--grid.lower=-8",
                     "--grid.upper=8", "--time.end=1", "--time.snapshots=5", "--pde.steps=50",
                     "--kinetic.steps=40", "--sampler_law=true"])
    if path:
        with h5py.File(path, "r") as f:
            check(f.attrs["family"] in (b"kinetic", "kinetic"), f"{name}: family attribute")
            check(f["/pde/density"].shape == (5, 128, 128), f"{name}: /pde/density {f['/pde/density'].shape}")
            check(f["/particles/histogram"].shape == (5, 128, 128), f"{name}: /particles/histogram")
            check(f["/sampler_law/density"].shape == (128, 128), f"{name}: /sampler_law/density")
            check(f["/sampler_law/x_marginal"].shape == (128,), f"{name}: /sampler_law/x_marginal")
            mass = f["/compare/pde_mass"][...]
            check(np.all(np.abs(mass - 1) < 1e-11), f"{name}: PDE mass {mass}")
            exact_l1 = f["/compare/pde_exact_l1"][...]
            check(np.all(exact_l1 < 6e-3), f"{name}: PDE vs closed form L1 {exact_l1}")
            l1, floor = f["/compare/l1"][...], f["/compare/noise_floor_l1"][...]
            check(np.all(l1 <= 1.3 * floor + exact_l1), f"{name}: twin L1 {l1} vs floor {floor} + {exact_l1}")
            check_sampler_law(name, f, False, "rel-ei")
        for heading in ("Sampler law (rel-ei, N = 40", "x-marginal: KL", "binned (100 bins)"):
            check(heading in out, f"{name}: '{heading}' missing from stdout")

    # A grid refined by PETSc: every consumer uses the grid as built.
    refined = {}
    for score in ("pde", "exact"):
        name = f"ou-refined-{score}"
        path, out = run(binary, nranks, scratch, name,
                        [f"--ou.score={score}", "--ou.steps=20", "--time.snapshots=5", "-da_refine", "1"])
        if path:
            with h5py.File(path, "r") as f:
                check(list(f["/grid"].attrs["shape"]) == [511], f"{name}: grid shape {f['/grid'].attrs['shape']}")
                for series in ("/pde/density", "/particles/histogram", "/reverse/histogram", "/reverse/pde_density"):
                    check(f[series].shape == (5, 511), f"{name}: {series} has shape {f[series].shape}")
                refined[score] = f["/compare/reverse/l1"][...]
    if len(refined) == 2:
        check(np.all(np.abs(refined["pde"] - refined["exact"]) <= 0.01),
              f"ou-refined: reverse L1 with the PDE score {refined['pde']} vs the exact score {refined['exact']}")

    # One-Gaussian data: the grid law against the closed-form recursion.
    gaussian_runs = [
        ("ou-1d", ["--family=ou", "--ou.target=1:0.5:0.64", "--ou.steps=30"], "rel-ei"),
        ("ou-1d-em", ["--family=ou", "--ou.target=1:0.5:0.64", "--ou.steps=30", "--ou.scheme=em"], "em"),
        ("ou-2d", ["--family=ou", "--grid.dim=2", "--grid.cells=96", "--ou.target=1:0.5,-0.3:0.5,0.8",
                   "--ou.steps=20"], "rel-ei"),
        ("kinetic", ["--family=kinetic", "--grid.cells=96", "--kinetic.target=1:0.5:0.64", "--kinetic.steps=20"],
         "rel-ei"),
    ]
    for name, args, scheme in gaussian_runs:
        path, out = run(binary, nranks, scratch, name,
                        args + ["--pde.enabled=false", "--sampler_law=true", "--time.end=3", "--time.snapshots=2",
                                "--grid.lower=-8", "--grid.upper=8"])
        if path:
            with h5py.File(path, "r") as f:
                check_sampler_law(name, f, True, scheme)
            check("Gaussian affine recursion KL" in out, f"{name}: affine line missing from stdout")
    return report(f"check_score_twins ({nranks} ranks)", check.failures)


if __name__ == "__main__":
    sys.exit(main())
