"""Shared pieces of the end-to-end test scripts: h5py and numpy, the MPI
environment, a bounded run of a command in its own process group, the check
collector and the failure report."""
import os
import shutil
import signal
import subprocess
import sys
import time


def need_h5py(script):
    """Returns (h5py, numpy), or exits naming the script when either is
    missing (the first python3 on the PATH may lack them)."""
    try:
        import h5py
        import numpy
    except ImportError as e:
        sys.exit(f"{script}: needs h5py and numpy ({e}); run with /usr/bin/python3")
    return h5py, numpy


def mpi_env():
    env = dict(os.environ)
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    return env


def mpiexec():
    """The MPI launcher: $MPIEXEC, else mpiexec on the PATH."""
    return os.environ.get("MPIEXEC") or shutil.which("mpiexec") or "mpiexec"


def fresh_output(scratch, name):
    """SCRATCH/NAME.h5 with no earlier file (final or .partial) left."""
    path = os.path.join(scratch, name + ".h5")
    for p in (path, path + ".partial"):
        if os.path.exists(p):
            os.remove(p)
    return path


def run_bounded(cmd, cwd, timeout):
    """Runs cmd in its own process group with the MPI environment.
    Returns (returncode, stdout, stderr, seconds); returncode is None when the
    command did not finish within timeout seconds (it is then killed)."""
    start = time.monotonic()
    p = subprocess.Popen(cmd, cwd=cwd, env=mpi_env(), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out, err, time.monotonic() - start
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return None, out, err, time.monotonic() - start


class Checks:
    """Collects failed checks: check(condition, message) records message once
    when condition is false and returns the condition as a bool."""

    def __init__(self):
        self.failures = []

    def __call__(self, condition, message):
        if not condition and message not in self.failures:
            self.failures.append(message)
        return bool(condition)


def run_twinflow(check, binary, nranks, scratch, name, args, timeout):
    """Runs `twinflow run` on nranks ranks with a fresh --output under
    scratch (named after the case and the rank count) and the given
    arguments; a failed run is recorded with check. Returns (path or None,
    stdout)."""
    path = fresh_output(scratch, f"{name}-{nranks}")
    cmd = [mpiexec(), "--oversubscribe", "-n", str(nranks), binary, "run", f"--output={path}"] + args
    code, out, err, secs = run_bounded(cmd, scratch, timeout)
    if not check(code == 0, f"{name}: exit {code} after {secs:.0f}s: {err.strip()[-400:]}"):
        return None, out
    return path, out


def report(name, failures):
    """Prints the outcome; returns the exit code."""
    if failures:
        print(f"{name}: FAIL: {len(failures)} check(s) failed:", file=sys.stderr)
        for m in failures:
            print("  - " + m, file=sys.stderr)
        return 1
    print(f"{name}: all checks passed")
    return 0


def restart_cycle(check, h5py, np, binary, family, nranks, scratch, name, args, bit_identical, timeout, timings=(),
                  tolerances=None, resume_ranks=None):
    """Runs a small case uninterrupted on nranks ranks, then again stopped by
    checkpoint.walltime at every step boundary it reaches in that time and
    resumed on resume_ranks (default nranks + 1) ranks until it finishes. The wall time is an
    eighth of the uninterrupted run's (at most 0.3 s), so that the run is
    cut several times on a fast machine as on a slow one. The datasets named
    in bit_identical must equal the uninterrupted run's bit for bit, every
    other floating-point dataset to round-off (reductions follow the rank
    count), except those whose name ends in one of `timings` (measured
    seconds) and those given their own (rtol, atol) in `tolerances`, keyed by
    a prefix of the dataset's path. Returns the last segment's standard
    output (None when the cycle failed)."""
    common = [f"--family={family}", "--quiet=true"] + args
    began = time.monotonic()
    ref, _ = run_twinflow(check, binary, nranks, scratch, name + "-reference", common, timeout)
    walltime = min(0.3, max(0.02, (time.monotonic() - began) / 8))
    path = os.path.join(scratch, f"{name}-{nranks}.h5")
    segments = 0
    for segment in range(80):
        ranks = nranks if segment == 0 else (resume_ranks or nranks + 1)
        cmd = [mpiexec(), "--oversubscribe", "-n", str(ranks), binary, "run", f"--output={path}",
               f"--checkpoint.walltime={walltime:.3f}"] + common + (["--overwrite=true"] if segment == 0 else ["--restart=latest"])
        code, out, err, _ = run_bounded(cmd, scratch, timeout)
        segments += 1
        if code == 0:
            break
        if not check(code == 75, f"{name}: segment {segment} exit {code}: {err.strip()[-300:]}"):
            return None
    print(f"{name}: {segments} segments at checkpoint.walltime={walltime:.3f}")
    check(segments > 2, f"{name}: only {segments} segment(s): the cycle did not interrupt the run")
    if not ref or not check(os.path.exists(path), f"{name}: no output after {segments} segments"):
        return None
    with h5py.File(ref, "r") as a, h5py.File(path, "r") as b:
        def visit(dataset, obj):
            if not isinstance(obj, h5py.Dataset) or obj.dtype.kind != "f" or dataset.endswith(tuple(timings)):
                return
            x, y = obj[...], b[dataset][...]
            if "/" + dataset in bit_identical:
                check(np.array_equal(x, y, equal_nan=True), f"{name}: /{dataset} not bit-identical")
            else:
                rtol, atol = next((t for prefix, t in (tolerances or {}).items() if ("/" + dataset).startswith(prefix)),
                                  (1e-12, 1e-15))
                check(np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True), f"{name}: /{dataset} differs")
        a.visititems(visit)
    return out
