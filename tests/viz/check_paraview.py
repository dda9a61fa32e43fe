#!/usr/bin/python3
"""ParaView opens twinflow's XDMF sidecars as a user would (label viz).

Usage: check_paraview.py BINARY SCRATCH

Runs a 1-D ou, a 2-D kac (vector fields and a reverse run) and a 3-D ou case
on 2 ranks, then, in one pvpython under xvfb-run, opens every sidecar with
the reader ParaView picks for it (<stem>.xmf: Xdmf3ReaderS, and Xdmf3ReaderT
too; <stem>.xmf2: the XDMF Reader) and checks against the HDF5 file:
  * the arrays: one per time series on the grid (a vector field: one per
    component), nothing else;
  * the time steps: /time, or /reverse/time for the reverse sidecar;
  * the values: at the first, a middle and the last step every cell equals
    the file's value (bit for bit, in the sidecar's order: ParaView's X is the
    file's last axis);
  * the mesh: the number of cells, and bounds equal to the box (missing
    axes at 0);
then draws the last density of each run as a user would (1-D: a line chart
over the cell centres; 2-D: the surface; 3-D: the mid-plane slice) to a PNG,
which must be a valid image whose data region is not blank.
"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))

TIMEOUT = 120
CASES = {
    "ou-1d": ["--family=ou", "--grid.cells=64", "--particles.count=2000", "--ou.steps=10"],
    "kac-2d": ["--family=kac", "--grid.dim=2", "--grid.cells=32", "--particles.count=2000", "--kac.steps=10",
               "--time.snapshots=4"],
    "ou-3d": ["--family=ou", "--grid.dim=3", "--grid.cells=12", "--particles.count=2000", "--ou.steps=10",
              "--time.snapshots=3"],
}


def grid_arrays(f, clock, in_clock):
    """The arrays a sidecar of this clock must list: name → (dataset, component)."""
    g = f["grid"]
    cells = tuple(int(c) for c in g.attrs["shape"])
    n = len(f[clock])
    found = {}

    def visit(name, obj):
        if not hasattr(obj, "shape") or name.startswith("grid/") or not in_clock(name):
            return
        if obj.shape[:1] != (n,) or obj.shape[1:1 + len(cells)] != cells or obj.dtype.kind != "f":
            return
        rest = obj.shape[1 + len(cells):]
        if rest == ():
            found[name] = ("/" + name, -1)
        elif rest == (len(cells),):
            for c in range(len(cells)):
                found[f"{name}_x{c}"] = ("/" + name, c)
    f.visititems(visit)
    return found


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
            for clock, stem in (("time", ""), ("reverse/time", ".reverse")):
                in_clock = (lambda n: n.startswith("reverse/")) if stem else (lambda n: not n.startswith("reverse/"))
                if clock not in f:
                    continue
                arrays = grid_arrays(f, clock, in_clock)
                times = f[clock][:]
                for ext, readers in ((".xmf", ("default", "Xdmf3ReaderT")), (".xmf2", ("default",))):
                    sidecar = os.path.splitext(h5)[0] + stem + ext
                    if not check(os.path.exists(sidecar) == bool(arrays),
                                 f"{sidecar}: exists is {os.path.exists(sidecar)} with {len(arrays)} arrays"):
                        continue
                    if not arrays:
                        continue
                    for which in readers:
                        r = OpenDataFile(sidecar) if which == "default" else Xdmf3ReaderT(FileName=[sidecar])
                        label = f"{os.path.basename(sidecar)} [{r.GetXMLName()}]"
                        want = "XdmfReader" if ext == ".xmf2" else "Xdmf3Reader"
                        check(r.GetXMLName().startswith(want), f"{label}: ParaView picks {r.GetXMLName()}")
                        r.UpdatePipeline(float(times[0]))
                        steps = list(r.TimestepValues) if len(times) > 1 else [float(r.TimestepValues)]
                        check(np.allclose(steps, times, rtol=1e-15, atol=0),
                              f"{label}: time steps {steps} are not {list(times)}")
                        names = sorted(a.GetName() for a in r.CellData)
                        check(names == sorted(arrays), f"{label}: arrays {names}, expected {sorted(arrays)}")
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
    for name, args in CASES.items():
        path, _ = run_twinflow(check, binary, 2, scratch, name, args + ["--quiet"], TIMEOUT)
        if path:
            plan.append({"h5": path, "png": os.path.join(scratch, name + ".png")})
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
