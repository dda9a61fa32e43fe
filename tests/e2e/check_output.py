#!/usr/bin/python3
"""End-to-end check of the output contract of a default `twinflow run`.

Usage: check_output.py BINARY NRANKS SCRATCH

Runs the default ou configuration on NRANKS MPI ranks, writing
SCRATCH/default-NRANKS.h5, and checks with h5py and numpy only:

  * provenance attributes, grid, time axes and dataset shapes;
  * sanity of the fields (no NaN, positive PDE density of unit mass,
    histograms of mass <= 1 made of whole particle counts);
  * the twin check: at every snapshot the PDE and the particle histogram
    differ in L1 by at most 3 times the statistical noise floor, with L1
    and the floor recomputed here and matched against /compare;
  * the PDE against the closed-form OU-evolved mixture (cell averages);
  * the XDMF sidecar, the absence of a leftover .partial file, and the
    summary and timing tables on stdout.

Exit status 0 when every check passes, 1 otherwise (each failure is listed).
"""
import configparser
import math
import os
import shutil
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import Checks, need_h5py, report, run_bounded  # noqa: E402

h5py, np = need_h5py("check_output")

TIMEOUT = 55  # seconds for the run itself
SNAPSHOTS = 11
CELLS = 256
HORIZON = 1.0
PARTICLES = 1000000
# Default data law: 0.5 N(-1.5, 0.25) + 0.5 N(1.5, 0.25).
TARGET = [(0.5, -1.5, 0.25), (0.5, 1.5, 0.25)]
FIELDS = ["/pde/density", "/particles/histogram", "/reverse/histogram", "/reverse/pde_density"]
COMPARE = ["l1", "hellinger", "kl", "noise_floor_l1", "w1", "pde_mass", "pde_exact_l1",
           "reverse_l1", "reverse_hellinger", "reverse_kl", "reverse_noise_floor_l1", "reverse_w1"]


def compare_path(name):
    """The reverse twin's metrics live under /compare/reverse/ (the first
    twin's and the PDE's at /compare/)."""
    return "/compare/reverse/" + name[len("reverse_"):] if name.startswith("reverse_") else "/compare/" + name
ROOT_ATTRS = ["schema", "schema_version", "twinflow_version", "git_sha", "petsc_version",
              "hdf5_version", "mpi_library", "nranks", "seed", "family", "created_utc", "config",
              "petsc_options"]

check = Checks()


def as_text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def run(cmd, cwd):
    """Runs cmd bounded by TIMEOUT; returns (rc, stdout, stderr, seconds)."""
    rc, out, err, secs = run_bounded(cmd, cwd, TIMEOUT)
    if rc is None:
        sys.exit(f"check_output: FAIL: run did not finish within {TIMEOUT} s (hang?)\n"
                 f"command: {' '.join(cmd)}\nstderr:\n{err}")
    return rc, out, err, secs


def exact_cell_averages(t, edges, dx):
    """Cell averages of the OU-evolved default mixture at time t."""
    a, a2 = math.exp(-t), math.exp(-2 * t)
    out = np.zeros(len(edges) - 1)
    for w, m, v in TARGET:
        mt, vt = a * m, a2 * v + 1 - a2
        s = math.sqrt(2 * vt)
        cdf = np.array([math.erf((e - mt) / s) for e in edges])
        out += w * 0.5 * (cdf[1:] - cdf[:-1])
    return out / dx


def check_file(path, nranks, n):
    with h5py.File(path, "r") as f:
        # Root attributes.
        for name in ROOT_ATTRS:
            check(name in f.attrs, f"root attribute '{name}' is missing")
        if "nranks" in f.attrs:
            check(int(f.attrs["nranks"]) == nranks,
                  f"root attribute nranks = {f.attrs['nranks']}, expected {nranks}")
        if "family" in f.attrs:
            check(as_text(f.attrs["family"]) == "ou", f"family = {f.attrs['family']!r}, expected 'ou'")
        if "schema" in f.attrs:
            check(as_text(f.attrs["schema"]) == "twinflow", f"schema = {f.attrs['schema']!r}")
        if "seed" in f.attrs:
            check(int(f.attrs["seed"]) == 1, f"seed = {f.attrs['seed']}, expected the default 1")
        if "config" in f.attrs:
            check("family = ou" in as_text(f.attrs["config"]),
                  "root attribute config does not contain 'family = ou'")
            # Python's configparser reads it, and it holds the platform's
            # sections and the running family's only.
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read_string(as_text(f.attrs["config"]))
                check(parser.get("general", "family") == "ou", "configparser: [general] family is not ou")
                check(parser.get("ou", "steps") == "100", "configparser: [ou] steps is not 100")
                check(not parser.has_section("kac") and not parser.has_section("kinetic"),
                      f"the stored config has sections of other families: {parser.sections()}")
            except configparser.Error as e:
                check(False, f"configparser cannot read the stored config: {e}")
        for name in ("twinflow_version", "petsc_version", "hdf5_version", "mpi_library", "created_utc"):
            if name in f.attrs:
                check(as_text(f.attrs[name]).strip() != "", f"root attribute {name} is empty")

        # Grid.
        if not check("grid" in f, "group /grid is missing"):
            return
        g = f["grid"]
        for name in ("dim", "lower", "upper", "shape"):
            check(name in g.attrs, f"/grid attribute '{name}' is missing")
        if not all(k in g.attrs for k in ("dim", "lower", "upper", "shape")):
            return
        dim = int(np.asarray(g.attrs["dim"]).ravel()[0])
        lower = np.atleast_1d(g.attrs["lower"]).astype(float)
        upper = np.atleast_1d(g.attrs["upper"]).astype(float)
        shape = np.atleast_1d(g.attrs["shape"]).astype(int)
        check(dim == 1, f"/grid dim = {dim}, expected 1")
        check(list(shape) == [CELLS], f"/grid shape = {list(shape)}, expected [{CELLS}]")
        check(len(lower) == dim and len(upper) == dim, "/grid lower/upper do not have dim entries")
        lo, hi, cells = float(lower[0]), float(upper[0]), int(shape[0])
        dx = (hi - lo) / cells
        if check("x0" in g, "/grid/x0 is missing"):
            x0 = g["x0"][...]
            if check(x0.shape == (cells,), f"/grid/x0 has shape {x0.shape}, expected ({cells},)"):
                check(np.all(np.diff(x0) > 0), "/grid/x0 is not strictly increasing")
                check(x0[0] > lo and x0[-1] < hi, f"/grid/x0 leaves [{lo}, {hi}]")
                centres = lo + (np.arange(cells) + 0.5) * dx
                check(np.max(np.abs(x0 - centres)) < 1e-12 * max(1.0, abs(lo), abs(hi)),
                      "/grid/x0 are not the cell centres lower + (i + 1/2) dx")

        # Time axes.
        def check_axis(name):
            if not check(name in f, f"{name} is missing"):
                return None
            t = f[name][...]
            if check(t.shape == (SNAPSHOTS,), f"{name} has shape {t.shape}, expected ({SNAPSHOTS},)"):
                check(t[0] == 0.0 and abs(t[-1] - HORIZON) < 1e-14,
                      f"{name} runs from {t[0]} to {t[-1]}, expected 0 to {HORIZON}")
                check(np.all(np.diff(t) > 0), f"{name} is not increasing")
            return t
        times = check_axis("/time")
        check_axis("/reverse/time")

        # Fields.
        data = {}
        for name in FIELDS:
            if not check(name in f, f"{name} is missing"):
                continue
            a = f[name][...]
            if not check(a.shape == (SNAPSHOTS, cells), f"{name} has shape {a.shape}, expected ({SNAPSHOTS}, {cells})"):
                continue
            check(not np.any(np.isnan(a)), f"{name} contains NaN (entries never written?)")
            check(np.all(np.isfinite(a)), f"{name} contains non-finite values")
            data[name] = a
        pde = data.get("/pde/density")
        if pde is not None:
            check(np.all(pde >= 0), f"/pde/density is negative somewhere (min {pde.min():.3e})")
            mass = pde.sum(axis=1) * dx
            err = np.abs(mass - 1)
            check(err.max() <= 1e-10, f"PDE mass differs from 1 by {err.max():.3e} (snapshot {err.argmax()})")
        for name in ("/particles/histogram", "/reverse/histogram"):
            h = data.get(name)
            if h is None:
                continue
            check(np.all(h >= 0), f"{name} is negative somewhere")
            m = h.sum(axis=1) * dx
            check(np.all(m <= 1 + 1e-12), f"{name} integrates to {m.max():.15f} > 1")
            counts = h * n * dx
            check(np.max(np.abs(counts - np.rint(counts))) < 1e-6,
                  f"{name} * N * dx is not a whole number of particles per cell")
        rpde = data.get("/reverse/pde_density")
        if rpde is not None:
            check(np.all(rpde >= 0), "/reverse/pde_density is negative somewhere")

        # Comparison vectors.
        cmp = {}
        for name in COMPARE:
            path = compare_path(name)
            if check(path in f, f"{path} is missing"):
                v = f[path][...]
                if check(v.shape == (SNAPSHOTS,), f"{path} has shape {v.shape}, expected ({SNAPSHOTS},)"):
                    cmp[name] = v
        for name in ("l1", "hellinger", "noise_floor_l1", "w1", "pde_mass", "pde_exact_l1",
                     "reverse_l1", "reverse_noise_floor_l1"):
            if name in cmp:
                check(np.all(np.isfinite(cmp[name])), f"{compare_path(name)} has non-finite entries")

        # Twin check: PDE vs particles within 3x the noise floor, recomputed here.
        hist = data.get("/particles/histogram")
        if pde is not None and hist is not None and "l1" in cmp and "noise_floor_l1" in cmp:
            P, Q = pde * dx, hist * dx
            l1 = np.abs(P - Q).sum(axis=1)
            inside = (P > 0) & (P < 1)
            Pc = np.where(inside, P, 0.0)
            floor = np.where(inside, np.sqrt(2 * Pc * (1 - Pc) / (math.pi * n)), 0.0).sum(axis=1)
            for j in range(SNAPSHOTS):
                t = times[j] if times is not None and len(times) == SNAPSHOTS else j
                worst_l1 = max(cmp["l1"][j], l1[j])
                check(worst_l1 <= 3 * min(cmp["noise_floor_l1"][j], floor[j]),
                      f"twin check: at t = {t:g} PDE vs particle L1 {worst_l1:.3e} exceeds 3 x the "
                      f"noise floor {cmp['noise_floor_l1'][j]:.3e}")
                check(abs(l1[j] - cmp["l1"][j]) <= 1e-9 * abs(l1[j]),
                      f"/compare/l1[{j}] = {cmp['l1'][j]!r} but recomputed {l1[j]!r}")
                check(abs(floor[j] - cmp["noise_floor_l1"][j]) <= 1e-9 * abs(floor[j]),
                      f"/compare/noise_floor_l1[{j}] = {cmp['noise_floor_l1'][j]!r} but recomputed {floor[j]!r}")
        if pde is not None and "pde_mass" in cmp:
            mass = pde.sum(axis=1) * dx
            check(np.max(np.abs(mass - cmp["pde_mass"])) <= 1e-12,
                  "/compare/pde_mass does not match sum(/pde/density) dx")

        # PDE vs the closed-form OU-evolved mixture.
        if pde is not None and times is not None and len(times) == SNAPSHOTS:
            edges = [lo + i * dx for i in range(cells + 1)]
            worst = 0.0
            for j in range(SNAPSHOTS):
                ex = exact_cell_averages(float(times[j]), edges, dx)
                l1x = float(np.abs(ex * dx - pde[j] * dx).sum())
                worst = max(worst, l1x)
                if "pde_exact_l1" in cmp:
                    check(abs(l1x - cmp["pde_exact_l1"][j]) <= 1e-6,
                          f"/compare/pde_exact_l1[{j}] = {cmp['pde_exact_l1'][j]:.6e} but recomputed {l1x:.6e}")
            check(worst < 2e-3, f"max L1(PDE, closed form) over snapshots = {worst:.3e}, expected < 2e-3")
            print(f"check_output: max L1(PDE, closed form) = {worst:.3e}")
        if "l1" in cmp and "noise_floor_l1" in cmp:
            print("check_output: max L1/floor (PDE vs particles) = "
                  f"{np.max(cmp['l1'] / cmp['noise_floor_l1']):.2f}")


def check_xdmf(xmf, h5):
    if not check(os.path.isfile(xmf), f"XDMF sidecar {xmf} does not exist"):
        return
    try:
        root = ET.parse(xmf).getroot()
    except ET.ParseError as e:
        check(False, f"XDMF sidecar {xmf} is not well-formed XML: {e}")
        return
    refs = 0
    with h5py.File(h5, "r") as f:
        for item in root.iter("DataItem"):
            if item.get("Format") != "HDF":
                continue
            text = (item.text or "").strip()
            if not check(":" in text, f"XDMF DataItem '{text}' is not 'file.h5:/path'"):
                continue
            fname, obj = text.split(":", 1)
            # XDMF 3 selects a snapshot in the reference itself:
            # path|start:stride:count:dataspace, the dataspace the dataset's shape.
            obj, _, slab = obj.partition("|")
            refs += 1
            check(fname == os.path.basename(h5), f"XDMF references file '{fname}', expected '{os.path.basename(h5)}'")
            if not check(obj in f, f"XDMF references '{obj}', which is not in {h5}"):
                continue
            dims = slab.split(":")[-1] if slab else item.get("Dimensions")
            if dims and isinstance(f[obj], h5py.Dataset):
                check(tuple(int(d) for d in dims.split()) == f[obj].shape,
                      f"XDMF Dimensions '{dims}' of {obj} do not match its shape {f[obj].shape}")
    check(refs > 0, "XDMF sidecar references no HDF5 dataset")


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: check_output.py BINARY NRANKS SCRATCH")
    binary, nranks, scratch = os.path.abspath(sys.argv[1]), int(sys.argv[2]), os.path.abspath(sys.argv[3])
    if not os.access(binary, os.X_OK):
        sys.exit(f"check_output: FAIL: {binary} is not an executable")
    mpiexec = os.environ.get("MPIEXEC") or shutil.which("mpiexec") or shutil.which("mpirun")
    if not mpiexec:
        sys.exit("check_output: FAIL: mpiexec not found")
    os.makedirs(scratch, exist_ok=True)
    h5 = os.path.join(scratch, f"default-{nranks}.h5")
    stem = os.path.splitext(h5)[0]
    sidecars = [stem + suffix + ext for suffix in ("", ".reverse") for ext in (".xmf", ".xmf2")]
    for p in [h5, h5 + ".partial"] + sidecars:
        if os.path.exists(p):
            os.remove(p)
    cmd = [mpiexec, "--oversubscribe", "-n", str(nranks), binary, "run", f"--output={h5}",
           "--overwrite", "--quiet"]
    rc, out, err, secs = run(cmd, scratch)
    print(f"check_output: {' '.join(cmd)} -> exit {rc} in {secs:.1f} s")
    if rc != 0:
        sys.exit(f"check_output: FAIL: the run exited with {rc}\nstdout:\n{out}\nstderr:\n{err}")

    check(not os.path.exists(h5 + ".partial"), f"{h5}.partial was left behind")
    # One table per twin: forward and reverse.
    header = [l for l in out.splitlines() if "hellinger" in l and "floor" in l]
    check(len(header) == 2, f"stdout has {len(header)} comparison table headers (lines with 'hellinger' and "
                            "'floor'), expected 2: forward and reverse")
    check("Timing per phase" in out, "stdout has no timing table ('Timing per phase')")
    check("twinflow: error" not in out + err, "the run printed an error line")
    if check(os.path.isfile(h5), f"{h5} was not written"):
        check_file(h5, nranks, PARTICLES)
        for sidecar in sidecars:
            check_xdmf(sidecar, h5)

    return report("check_output", check.failures)


if __name__ == "__main__":
    sys.exit(main())
