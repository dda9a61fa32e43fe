#!/usr/bin/python3
"""ParaView opens twinflow's XDMF sidecars as a user would (label viz).

Usage: check_paraview.py BINARY SCRATCH

Runs a 1-D ou, a 2-D kac (vector fields and a reverse run), a 3-D ou and a
2-D mfg case (series on three clocks) on 2 ranks, cells and box different on
every axis, then, in one pvpython under xvfb-run, opens every sidecar with
the reader ParaView picks for it (<stem>.xmf: Xdmf3ReaderS, and Xdmf3ReaderT
too; <stem>.xmf2: the XDMF Reader) and checks against the HDF5 file:
  * the sidecars: exactly those of the case's clocks (<stem>.xmf,
    <stem>.reverse.xmf, …, each with its .xmf2);
  * the arrays: exactly the case's list (a vector field: one per component);
  * the time steps: the values of the dataset the arrays' attribute axis
    names (/time, /reverse/time, /controlled/time);
  * the values: at the first, a middle and the last step every cell equals
    the file's value (bit for bit, in the sidecar's order: ParaView's X is the
    file's last axis);
  * the mesh: the number of cells, and bounds equal to the box per axis
    (missing axes at 0);
then draws the last density of each run as a user would (1-D: a line chart
over the cell centres; 2-D: the surface; 3-D: the mid-plane slice) to a PNG,
which must be a valid image whose data region is not blank.
"""
import glob
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))

TIMEOUT = 120
FORWARD = ["particles/histogram", "pde/density"]
REVERSE = ["reverse/histogram", "reverse/pde_density"]
# Each case's arguments and the arrays of each sidecar (by its suffix after
# the stem): written out here, not derived the way the writer derives them.
# Cells, lower and upper differ per axis, so that a swapped axis shows.
CASES = {
    "ou-1d": (["--family=ou", "--grid.cells=64", "--grid.lower=-5", "--grid.upper=7", "--particles.count=2000",
               "--ou.steps=10"],
              {"": FORWARD, ".reverse": REVERSE}),
    "kac-2d": (["--family=kac", "--grid.dim=2", "--grid.cells=24,32", "--grid.lower=-6,-5", "--grid.upper=6,7",
                "--particles.count=2000", "--kac.steps=10", "--time.snapshots=4"],
               {"": FORWARD + ["pde/flux_x0", "pde/flux_x1", "pde/velocity_x0", "pde/velocity_x1"],
                ".reverse": REVERSE}),
    "ou-3d": (["--family=ou", "--grid.dim=3", "--grid.cells=8,10,12", "--grid.lower=-6,-5,-4", "--grid.upper=6,5,4",
               "--particles.count=2000", "--ou.steps=10", "--time.snapshots=3"],
              {"": FORWARD, ".reverse": REVERSE}),
    # mfg (2-D by default): series on three clocks, the reverse samplers of
    # every score on s, the controlled equation on its own.
    "mfg-2d": (["--family=mfg", "--grid.cells=24,32", "--particles.count=2000", "--mfg.steps=5", "--mfg.train=20"],
               {"": FORWARD, ".reverse": REVERSE + ["reverse_empirical/histogram", "reverse_kernel/histogram"],
                ".controlled": ["controlled/density"]}),
}


def sidecar_arrays(f, names):
    """name → (dataset, component) of the arrays `names` (a vector field's
    component c as <dataset>_x<c>), and the set of their datasets' attribute
    axis (the clock of their entries), which must hold one dataset."""
    found, axes = {}, set()
    for name in names:
        path, component = "/" + name, -1
        if path not in f and "_x" in name:
            path, component = "/" + name.rsplit("_x", 1)[0], int(name.rsplit("_x", 1)[1])
        found[name] = (path, component)
        axes.add(f[path].attrs["axis"] if path in f and "axis" in f[path].attrs else None)
    return found, axes


def in_paraview(plan_path):
    """The checks inside pvpython; prints one JSON line of failures."""
    import h5py
    import numpy as np
    from paraview.simple import (CellCenters, ColorBy, CreateView, Delete, OpenDataFile, PlotData, Render, ResetCamera,
                                 SaveScreenshot, Show, Slice, Xdmf3ReaderT)
    from vtk.util.numpy_support import vtk_to_numpy

    plan = json.load(open(plan_path))
    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)
        return ok

    for case in plan:
        h5 = case["h5"]
        with h5py.File(h5, "r") as f:
            lower, upper = f["grid"].attrs["lower"], f["grid"].attrs["upper"]
            dim = len(lower)
            expected_bounds = []
            for axis in range(3):  # ParaView's X, Y, Z: the file's last axis first
                k = dim - 1 - axis
                expected_bounds += [float(lower[k]), float(upper[k])] if k >= 0 else [0.0, 0.0]
            ncells = int(np.prod(f["grid"].attrs["shape"]))
            stem = os.path.splitext(h5)[0]
            written = sorted(os.path.basename(p) for p in glob.glob(stem + ".*xmf*"))
            expected = sorted(os.path.basename(stem) + suffix + ext for suffix in case["sidecars"]
                              for ext in (".xmf", ".xmf2"))
            check(written == expected, f"{os.path.basename(h5)}: sidecars {written}, expected {expected}")
            for suffix, names in case["sidecars"].items():
                arrays, axes = sidecar_arrays(f, names)
                if not check(len(axes) == 1 and None not in axes and next(iter(axes)) in f,
                             f"{os.path.basename(h5)}{suffix}: the arrays' axis attributes {axes} are not one clock"):
                    continue
                times = f[next(iter(axes))][:]
                for ext, readers in ((".xmf", ("default", "Xdmf3ReaderT")), (".xmf2", ("default",))):
                    sidecar = stem + suffix + ext
                    if not os.path.exists(sidecar):
                        continue
                    for which in readers:
                        r = OpenDataFile(sidecar) if which == "default" else Xdmf3ReaderT(FileName=[sidecar])
                        label = f"{os.path.basename(sidecar)} [{r.GetXMLName()}]"
                        want = "XdmfReader" if ext == ".xmf2" else "Xdmf3Reader"
                        check(r.GetXMLName().startswith(want), f"{label}: ParaView picks {r.GetXMLName()}")
                        r.UpdatePipeline(float(times[0]))
                        steps = list(r.TimestepValues) if len(times) > 1 else [float(r.TimestepValues)]
                        # Outputs at one clock value (a reverse run with fewer steps than outputs) are one step.
                        distinct = [t for k, t in enumerate(times) if k == 0 or t != times[k - 1]]
                        check(len(steps) == len(distinct) and np.allclose(steps, distinct, rtol=1e-15, atol=0),
                              f"{label}: time steps {steps} are not {distinct}")
                        listed = sorted(a.GetName() for a in r.CellData)
                        check(listed == sorted(arrays), f"{label}: arrays {listed}, expected {sorted(arrays)}")
                        for j in sorted({0, len(times) // 2, len(times) - 1}):
                            r.UpdatePipeline(float(times[j]))
                            data = r.GetClientSideObject().GetOutputDataObject(0)
                            if data.IsA("vtkMultiBlockDataSet"):
                                data = data.GetBlock(0)
                            check(data.GetNumberOfCells() == ncells,
                                  f"{label} t={times[j]}: {data.GetNumberOfCells()} cells, expected {ncells}")
                            check(np.allclose(data.GetBounds(), expected_bounds, rtol=0, atol=1e-12),
                                  f"{label} t={times[j]}: bounds {data.GetBounds()}, expected {expected_bounds}")
                            for name, (path, component) in arrays.items():
                                a = data.GetCellData().GetArray(name)
                                if not check(a is not None, f"{label} t={times[j]}: no cell array {name}"):
                                    continue
                                field = f[path][j]
                                if component >= 0:
                                    field = field[..., component]
                                got = vtk_to_numpy(a)
                                check(np.array_equal(got, field.ravel()),
                                      f"{label} t={times[j]} {name}: values differ from {path}[{j}] "
                                      f"(largest |diff| {np.max(np.abs(got - field.ravel())) if got.shape == field.ravel().shape else 'shape ' + str(got.shape)})")
        # A picture of the last snapshot's density, as a user would draw it:
        # 1-D a line chart over the cell centres, 2-D the surface, 3-D the
        # mid-plane slice normal to Z (the file's x0).
        r = OpenDataFile(os.path.splitext(h5)[0] + ".xmf")
        time = float(r.TimestepValues[-1])
        if dim == 1:
            view = CreateView("XYChartView")
            source = PlotData(Input=CellCenters(Input=r))
            display = Show(source, view)
            display.UseIndexForXAxis = 0
            display.XArrayName = "Points_X"
            display.SeriesVisibility = ["pde/density", "particles/histogram"]
        else:
            view = CreateView("RenderView")
            source = r if dim == 2 else Slice(Input=r, SliceType="Plane")
            if dim == 3:
                source.SliceType.Origin = [0.5 * (expected_bounds[2 * a] + expected_bounds[2 * a + 1]) for a in range(3)]
                source.SliceType.Normal = [0, 0, 1]
            display = Show(source, view)
            display.Representation = "Surface"
            ColorBy(display, ("CELLS", "pde/density"))
            display.RescaleTransferFunctionToDataRange(True, False)
            ResetCamera(view)
        view.ViewSize = [480, 360]
        view.ViewTime = time
        Render(view)
        SaveScreenshot(case["png"], view, ImageResolution=[480, 360])
        Delete(view)
    print(json.dumps(failures))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--in-paraview":
        in_paraview(sys.argv[2])
        return
    from e2e_common import Checks, need_h5py, report, run_bounded, run_twinflow

    _, np = need_h5py("check_paraview")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.image

    if len(sys.argv) != 3:
        sys.exit(__doc__)
    check = Checks()
    binary = os.path.abspath(sys.argv[1])
    scratch = os.path.join(os.path.abspath(sys.argv[2]), "paraview")
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    pvpython, xvfb = shutil.which("pvpython"), shutil.which("xvfb-run")
    if not check(pvpython and xvfb, "pvpython or xvfb-run is missing (packages python3-paraview, xvfb)"):
        sys.exit(report("check_paraview", check.failures))
    plan = []
    for name, (args, sidecars) in CASES.items():
        path, _ = run_twinflow(check, binary, 2, scratch, name, args + ["--quiet"], TIMEOUT)
        if path:
            plan.append({"h5": path, "png": os.path.join(scratch, name + ".png"), "sidecars": sidecars})
    plan_path = os.path.join(scratch, "plan.json")
    json.dump(plan, open(plan_path, "w"))
    code, out, err, secs = run_bounded([xvfb, "-a", pvpython, "--force-offscreen-rendering", os.path.abspath(__file__),
                                        "--in-paraview", plan_path], scratch, TIMEOUT)
    lines = [l for l in out.splitlines() if l.startswith("[")]
    if check(code == 0 and lines, f"pvpython exit {code} after {secs:.0f}s: {err.strip()[-600:]}"):
        for failure in json.loads(lines[-1]):
            check(False, failure)
        check("Skipping unrecognized array type" not in err, "ParaView skipped an array: " + err.strip()[-400:])
    for case in plan:
        png = case["png"]
        if check(os.path.exists(png), f"{png} was not written"):
            image = matplotlib.image.imread(png)
            check(image.ndim == 3 and image.shape[0] == 360 and image.shape[1] == 480,
                  f"{png}: shape {image.shape}, expected 360 × 480 pixels")
            # A field drawn through a colour map or as curves has many
            # colours; an empty view, or one flat colour on the background, few.
            colours = len(np.unique((image[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0))
            check(colours >= 32, f"{png} is blank: {colours} distinct colours")
    sys.exit(report("check_paraview", check.failures))


if __name__ == "__main__":
    main()
