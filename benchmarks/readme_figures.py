#!/usr/bin/python3
"""Prints the README's table of measured examples, so that its figures are
what the program prints on the machine at hand.

Usage: benchmarks/readme_figures.py BINARY [--all] [--scratch DIR]

Runs every example of the README's "Running" section and each family's
default run on 2 ranks (`mpiexec -n 2`), each with its own output, times it
as a whole process (start-up included), and prints one Markdown row per twin
of its output: the largest and the last ratio of the twin's L1 to its noise
floor (the L1 two independent samples of the particle count would have), and
the family's own headline figures (the PDE's L1 to the closed form, the Kac
flow's W1 at s = T against its floor, the sample-space sliced W1 against its
noise, the sampler law's KL against its bound). `--all` adds the 2-D Kac
example (about 8 minutes). Paste the output into the README's "Measured:
the examples" section with the machine it came from.
"""
import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time

try:
    import h5py
    import numpy as np
except ImportError as e:
    sys.exit(f"readme_figures: needs h5py and numpy ({e}); run with /usr/bin/python3")

GRID9 = "grid9.txt"
# (name, arguments of `twinflow run`, in the default set): the README's examples, then the family defaults.
EXAMPLES = [
    ("default (ou, 1-D)", [], True),
    ("ou 2-D, PDE score, probability-flow ODE",
     ["--grid.dim=2", "--grid.cells=128", "--ou.target=0.5:-1.5,0:0.2;0.5:1.5,0:0.2", "--ou.score=pde",
      "--ou.scheme=pf-ode"], True),
    ("kac 1-D", ["--family=kac"], True),
    ("kac 2-D, 9-point grid", ["--family=kac", "--grid.dim=2", "--grid.cells=128", f"--kac.data=file:{GRID9}"],
     False),
    ("kac, trained velocity and VE baseline",
     ["--family=kac", "--kac.velocity=nn", "--kac.baseline=ve", "--kac.nn.width=64", "--kac.nn.iterations=3000",
      "--particles.count=5000", "--kac.steps=40"], True),
    ("kinetic with its sampler law",
     ["--family=kinetic", "--grid.cells=128", "--grid.lower=-8", "--grid.upper=8", "--sampler_law=true"], True),
    ("ou particles only, d = 8", ["--grid.dim=8", "--pde.enabled=false", "--ou.target=1:0.5:0.25"], True),
    ("free", ["--family=free"], True),
    ("spin", ["--family=spin"], True),
    ("mfg", ["--family=mfg"], True),
]


def write_grid9(directory):
    """The 9-point grid {−1, 0, 1}² of the README's 2-D Kac example, the
    file its shell loop writes."""
    with open(os.path.join(directory, GRID9), "w") as g:
        for x in (-1, 0, 1):
            for y in (-1, 0, 1):
                g.write(f"0.1111111111111111 {x} {y} 0 0 0 0\n")


def fmt(x):
    return "–" if x is None or not np.isfinite(x) else f"{x:.3g}"


def ratio(group, value, floor):
    """(largest, last) of value / floor over the rows where both are finite."""
    if value not in group or floor not in group:
        return None
    v, f = np.asarray(group[value][...], float), np.asarray(group[floor][...], float)
    ok = np.isfinite(v) & np.isfinite(f) & (f > 0)
    if not ok.any():
        return None
    r = v[ok] / f[ok]
    return float(r.max()), float(r[-1])


def twin_rows(f):
    """(twin, L1/floor largest, last, other figures) for every twin of a file."""
    rows, groups = [], []
    if "compare" in f:
        groups.append(("forward", f["compare"]))
        f["compare"].visititems(lambda n, o: groups.append((n, o)) if isinstance(o, h5py.Group) else None)
    for name, g in groups:
        other = []
        l1 = ratio(g, "l1", "noise_floor_l1")
        if "pde_exact_l1" in g:
            e = g["pde_exact_l1"][...]
            other.append(f"PDE vs closed form L1 ≤ {fmt(np.nanmax(e))} (last {fmt(e[-1])})")
        continuous = ratio(g, "continuous_l1", "continuous_noise_floor_l1")
        if continuous:
            other.append(f"continuous part L1 / floor ≤ {continuous[0]:.2f} (last {continuous[1]:.2f})")
        fine = ratio(g, "w1_fine", "w1_fine_floor")
        if fine:
            other.append(f"W1 at s = T {fmt(g['w1_fine'][-1])} = {fine[1]:.2f} × its floor")
        sliced = ratio(g, "sliced_w1", "sliced_w1_noise")
        if sliced:
            other.append(f"sliced W1 / noise ≤ {sliced[0]:.2f} (last {sliced[1]:.2f})")
        if "mean_max_z" in g:
            other.append(f"mean z ≤ {fmt(np.nanmax(g['mean_max_z'][...]))}")
        if l1 or other:
            rows.append((name, l1, other))
    if "sampler_law" in f and "kl" in f["sampler_law"]:
        s = f["sampler_law"]
        rows.append(("sampler law", None, [f"KL {fmt(s['kl'][0])} ≤ bound {fmt(s['bound'][0])}"]))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("binary")
    p.add_argument("--all", action="store_true", help="also the 2-D Kac example (about 8 minutes)")
    p.add_argument("--scratch", help="directory for the outputs (default: a temporary one)")
    a = p.parse_args()
    binary = os.path.abspath(a.binary)
    scratch = a.scratch or tempfile.mkdtemp(prefix="readme-figures-")
    os.makedirs(scratch, exist_ok=True)
    write_grid9(scratch)
    env = dict(os.environ)
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    print("| example | wall [s] | twin | L1 / floor, largest (last) | figures |")
    print("|---|---|---|---|---|")
    for i, (name, args, default) in enumerate(EXAMPLES):
        if not default and not a.all:
            continue
        out = os.path.join(scratch, f"example-{i}.h5")
        cmd = ["mpiexec", "-q", "-n", "2", binary, "run", f"--output={out}", "--overwrite", "--quiet"] + args
        began = time.monotonic()
        done = subprocess.run(cmd, cwd=scratch, env=env, capture_output=True, text=True)
        wall = time.monotonic() - began
        if done.returncode != 0:
            sys.exit(f"readme_figures: {shlex.join(cmd)} exited {done.returncode}:\n{done.stderr[-2000:]}")
        with h5py.File(out, "r") as f:
            rows = twin_rows(f)
        for k, (twin, l1, other) in enumerate(rows):
            first = k == 0
            print(f"| {name if first else ''} | {f'{wall:.1f}' if first else ''} | {twin} | "
                  f"{f'{l1[0]:.2f} ({l1[1]:.2f})' if l1 else '–'} | {'; '.join(other)} |")
        print(f"readme_figures: {name}: {wall:.1f} s: {shlex.join(args)}", file=sys.stderr)


if __name__ == "__main__":
    main()
