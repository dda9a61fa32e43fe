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


def twinflow_diff(binary, cwd, *arguments, timeout=120):
    """`twinflow diff A.h5 B.h5 OPTIONS…` on one rank: (exit code, stdout,
    stderr)."""
    code, out, err, _ = run_bounded([mpiexec(), "--oversubscribe", "-n", "1", binary, "diff"] + list(arguments), cwd,
                                    timeout)
    return code, out, err


def restart_cycle(check, binary, family, nranks, scratch, name, args, bit_identical, timeout, timings=(),
                  tolerances=None, resume_ranks=None):
    """Runs a small case uninterrupted on nranks ranks, then again stopped by
    checkpoint.walltime at every step boundary it reaches in that time and
    resumed on resume_ranks (default nranks + 1) ranks until it finishes. The wall time is an
    eighth of the uninterrupted run's (at most 1 s), so that the run is
    cut several times on a fast machine as on a slow one, and a long run
    (most of a segment's time spent starting and restoring, on one rank
    more than the reference) still ends within the 80 segments allowed. The datasets named
    in bit_identical (path prefixes) must equal the uninterrupted run's bit
    for bit, every other value to round-off (reductions follow the rank
    count), except the datasets whose name ends in one of `timings`
    (measured seconds) and those given their own (rtol, atol) in
    `tolerances`, keyed by a prefix of the dataset's path; `twinflow diff`
    compares them. Returns the last segment's standard output (None when the
    cycle failed)."""
    common = [f"--family={family}", "--quiet=true"] + args
    began = time.monotonic()
    ref, _ = run_twinflow(check, binary, nranks, scratch, name + "-reference", common, timeout)
    walltime = min(1.0, max(0.02, (time.monotonic() - began) / 8))
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
    # `twinflow diff`, as a user checks a restart: the datasets in
    # bit_identical exact, every other value to round-off (1e-12 relative,
    # 1e-15 absolute) or to its own tolerance, measured times not compared.
    options = ["--rtol=1e-12", "--atol=1e-15"] + [f"--exact={d}" for d in bit_identical]
    options += [f"--tolerance={prefix}:{r}:{a}" for prefix, (r, a) in (tolerances or {}).items()]
    options += [f"--ignore-dataset=*{t}" for t in timings]
    # The mass drift is a round-off figure, not comparable across rank counts.
    options += ["--ignore-attribute=max_relative_mass_drift"]
    code, diff_out, diff_err = twinflow_diff(binary, scratch, ref, path, *options)
    check(code == 0, f"{name}: twinflow diff against the uninterrupted run: exit {code}\n{diff_out}{diff_err}")
    return out
