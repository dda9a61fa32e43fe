#!/usr/bin/python3
"""What a user's wrapper sees when a run launched with mpiexec is stopped by a
signal (the README's table), and that jobs/twinflow-launch.sh turns every stop
signal into exit status 75.

Usage: check_launch_signals.py BINARY LAUNCH_SCRIPT SCRATCH

A run that needs about 10 s (long enough that on a fast machine it is still
stepping when the signal comes) is stopped 2 s in:
  * mpiexec itself, signalled directly: SIGUSR1 is forwarded to the ranks,
    which checkpoint, and mpiexec exits 75; SIGINT and SIGTERM make mpiexec
    end the job itself and exit 1, after the ranks wrote their checkpoint
    (the run resumes with --restart=latest all the same);
  * jobs/twinflow-launch.sh: Ctrl-C (SIGINT to the terminal's process group),
    SIGTERM and SIGUSR1 all give exit 75 and a checkpoint, and the resumed
    run finishes with exit 0.

Exit status 0 when every check passes, 1 otherwise.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import Checks, mpi_env, report, run_bounded  # noqa: E402

RUN = ["run", "--pde.steps=4000", "--grid.cells=512", "--particles.count=300000", "--ou.steps=1600",
       "--output=out.h5", "--quiet"]
TIMEOUT = 120
check = Checks()


def stopped(label, launch, binary, scratch, sig, group):
    cwd = os.path.join(scratch, label)
    shutil.rmtree(cwd, ignore_errors=True)
    os.makedirs(cwd)
    p = subprocess.Popen(launch + ["--oversubscribe", "-n", "2", binary] + RUN, cwd=cwd, env=mpi_env(),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    time.sleep(2.0)
    if group:
        os.killpg(p.pid, sig)  # what a terminal's Ctrl-C does
    else:
        p.send_signal(sig)
    try:
        rc = p.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        check(False, f"{label}: no exit within {TIMEOUT} s after {sig.name}")
        return None, cwd
    wrote = os.path.exists(os.path.join(cwd, "out.checkpoints")) and os.path.exists(os.path.join(cwd, "out.h5.partial"))
    print(f"check_launch_signals: {label}: {sig.name} -> exit {rc}, checkpoint {'written' if wrote else 'missing'}")
    check(wrote, f"{label}: no checkpoint after {sig.name}")
    return rc, cwd


def resumes(label, binary, cwd):
    rc, out, err, secs = run_bounded(["mpiexec", "--oversubscribe", "-n", "2", binary] + RUN + ["--restart=latest"],
                                     cwd, TIMEOUT)
    check(rc == 0 and os.path.exists(os.path.join(cwd, "out.h5")), f"{label}: resume exit {rc}: {err[-300:]}")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    binary, launch, scratch = (os.path.abspath(a) for a in sys.argv[1:])
    os.makedirs(scratch, exist_ok=True)
    mpiexec = [shutil.which("mpiexec") or "mpiexec"]
    for sig, want in [(signal.SIGUSR1, 75), (signal.SIGINT, 1), (signal.SIGTERM, 1)]:
        rc, cwd = stopped(f"mpiexec-{sig.name}", mpiexec, binary, scratch, sig, group=False)
        check(rc == want, f"mpiexec-{sig.name}: exit {rc}; the README says {want}")
    resumes("mpiexec-SIGTERM", binary, cwd)
    for sig, group in [(signal.SIGINT, True), (signal.SIGTERM, False), (signal.SIGUSR1, False)]:
        rc, cwd = stopped(f"launch-{sig.name}", [launch], binary, scratch, sig, group)
        check(rc == 75, f"launch-{sig.name}: exit {rc}, expected 75")
        resumes(f"launch-{sig.name}", binary, cwd)
    return report("check_launch_signals", check.failures)


if __name__ == "__main__":
    sys.exit(main())
