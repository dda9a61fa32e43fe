#!/usr/bin/python3
"""End-to-end checks with the test-only families (tests/families).

Usage: check_test_families.py TEST_BINARY NRANKS SCRATCH

TEST_BINARY is twinflow-test-families: twinflow with two families added.

  * heat, the minimal family of the README's "Adding a family": the run
    finishes, prints its forward table, and its PDE is within 1e-3 (L1) of
    the closed form while the particle histogram is within 1.3 times the
    noise floor (plus the PDE's own error) of the PDE at every snapshot;
  * faulty, failures on one rank only (the last), each class in the local
    work of a stage and inside a PETSc callback of a TS over all ranks: a
    RuntimeFailure, a PETSc error, an HDF5 error, std::bad_alloc, another
    std::exception. Every rank exits 1 together within the time limit (no
    hang), with one line on stderr naming the rank, the stage, the time and
    the failure, no crash or MPI_ABORT block, and the output left as
    <output>.partial.

Exit status 0 when every check passes, 1 otherwise.
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import Checks, fresh_output, mpiexec, need_h5py, report, run_bounded  # noqa: E402

h5py, np = need_h5py("check_test_families")

TIMEOUT = 60
CRASH_MARKERS = ["terminate called", "Process received signal", "Segmentation fault", "core dumped",
                 "MPI_ABORT was invoked", "exited on signal", "Aborted", "PETSC ERROR", "HDF5-DIAG"]
# What each failure class says in its line.
FAILURES = {
    "runtime": "injected runtime failure",
    "petsc": "PETSc: VecAXPY failed: Incompatible vector global lengths",
    "hdf5": "HDF5: open /nonexistent/twinflow-test.h5 failed",
    "bad_alloc": "out of memory (std::bad_alloc)",
    "std_exception": "injected std::out_of_range (std::out_of_range)",
}
# Where the failure strikes (step 3) and the time the line reports: the
# steps stage after its third step, the PDE after its third step of 0.005.
STAGES = {"steps": "in stage 'steps' after step = 3", "pde": "in stage 'pde' after t = 0.015"}
check = Checks()


def heat(binary, nranks, scratch):
    path = os.path.join(scratch, "heat.h5")
    particles = 400000
    cmd = [mpiexec(), "--oversubscribe", "-n", str(nranks), binary, "run", "--family=heat", f"--output={path}",
           "--overwrite", "--quiet", f"--particles.count={particles}"]
    rc, out, err, secs = run_bounded(cmd, scratch, TIMEOUT)
    print(f"check_test_families: heat on {nranks} rank(s) -> exit {rc} in {secs:.1f} s")
    if not check(rc == 0, f"heat: exit {rc}: {err[-400:]}"):
        return
    check("Forward: particle histogram vs the PDE density" in out, "heat: no forward table on stdout")
    with h5py.File(path, "r") as f:
        exact_l1, l1, floor = f["/compare/pde_exact_l1"][...], f["/compare/l1"][...], f["/compare/noise_floor_l1"][...]
        check(np.all(exact_l1 < 1e-3), f"heat: PDE vs closed form L1 {exact_l1}")
        check(np.all(l1 <= 1.3 * floor + exact_l1), f"heat: particles vs PDE L1 {l1} against the floor {floor}")


def faulty(binary, nranks, scratch, kind, stage):
    name = f"{kind}-{stage}"
    path = fresh_output(scratch, name)
    cmd = [mpiexec(), "-q", "--oversubscribe", "-n", str(nranks), binary, "run", "--family=faulty",
           f"--fault.kind={kind}", f"--fault.stage={stage}", f"--fault.rank={nranks - 1}", "--fault.step=3",
           f"--output={path}", "--quiet"]
    rc, out, err, secs = run_bounded(cmd, scratch, TIMEOUT)
    print(f"check_test_families: {name} on {nranks} rank(s) -> exit {rc} in {secs:.1f} s")
    if not check(rc is not None, f"{name}: hang: no exit within {TIMEOUT} s"):
        return
    check(rc == 1, f"{name}: exit {rc}, expected 1")
    lines = [l for l in err.splitlines() if l.startswith("twinflow: error:")]
    if check(len(lines) == 1, f"{name}: {len(lines)} error lines, expected 1:\n{err}"):
        want = f"rank {nranks - 1} {STAGES[stage]}: {FAILURES[kind]}"
        check(want in lines[0], f"{name}: the line {lines[0]!r} does not say {want!r}")
    for marker in CRASH_MARKERS:
        check(marker not in out + err, f"{name}: '{marker}' in the output")
    check(os.path.exists(path + ".partial") and not os.path.exists(path),
          f"{name}: the output should stay {path}.partial")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    binary, nranks, scratch = os.path.abspath(sys.argv[1]), int(sys.argv[2]), os.path.abspath(sys.argv[3])
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    heat(binary, nranks, scratch)
    for stage in STAGES:
        for kind in FAILURES:
            faulty(binary, nranks, scratch, kind, stage)
    return report(f"check_test_families ({nranks} ranks)", check.failures)


if __name__ == "__main__":
    sys.exit(main())
