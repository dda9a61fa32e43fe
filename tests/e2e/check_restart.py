#!/usr/bin/python3
"""End-to-end checks of checkpoint and restart.

Usage: check_restart.py BINARY NRANKS SCRATCH

With an uninterrupted run on NRANKS ranks as the reference:
  * SIGTERM sent to the ranks (as Slurm does at a time limit) while the PDE,
    the forward particles and the reverse sampler run, and SIGUSR1 sent to
    mpiexec (which forwards it): each run exits 75 with a checkpoint, and
    `--restart=latest` with the same command line finishes with output
    identical to the reference (every dataset bit for bit, every attribute
    but provenance);
  * SIGTERM at several moments of a run that spends most of its time writing
    output: the same;
  * SIGKILL of a run that writes a checkpoint every few steps: the partial
    output is readable HDF5 in which every completed snapshot is intact (the
    others read as NaN), the newest checkpoint is intact, and resuming from
    it gives the reference output;
  * the same for `kac` with the PDE velocity and `kinetic` with the PDE
    score and the sampler law, interrupted in the reverse run;
  * for NRANKS > 1: a run interrupted on NRANKS − 1 ranks resumes on NRANKS:
    particle outputs bit-identical to the reference, PDE outputs within
    1e-10 relative (reductions round differently);
  * a finished run leaves no checkpoint or manifest behind.

The output-bound moments and the other families' cases exercise the same
checkpoint machinery at any rank count; they run at NRANKS = 2 only (and at
one moment elsewhere), which keeps the three serial runs of this test short.

Exit status 0 when every check passes, 1 otherwise.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import Checks, mpi_env, need_h5py, report, run_bounded, twinflow_diff  # noqa: E402

h5py, np = need_h5py("check_restart")

TIMEOUT = 120
EXIT_CHECKPOINTED = 75
# ~1 s per phase on 2 ranks, so a signal lands inside the phase it aims at.
RUN = ["--pde.steps=4000", "--grid.cells=512", "--particles.count=300000", "--ou.steps=400",
       "--progress_interval=0.02"]
# Mostly output (io is the largest phase, ~45 % of the run on 2 ranks):
# many snapshots of a 2-D field, one PDE step between them.
IO_HEAVY = ["--grid.dim=2", "--grid.cells=128", "--time.snapshots=201", "--pde.steps=200",
            "--particles.count=20000", "--ou.steps=200", "--quiet"]
# Families whose experiments carry state into the particle phases: PDE
# velocities and scores kept for the reverse run, the sampler law's counts.
FAMILY_RUNS = {
    "kac": ["--family=kac", "--kac.velocity=pde", "--kac.steps=200", "--particles.count=100000",
            "--grid.cells=400", "--progress_interval=0.02"],
    "kinetic": ["--family=kinetic", "--kinetic.score=pde", "--kinetic.steps=200", "--particles.count=200000",
                "--grid.cells=96", "--sampler_law=true", "--progress_interval=0.02"],
}


def progress_line(stage):
    """A progress line of a stage (not the INI section header of the same
    name): '[reverse  ] s = 0.42 step 42 ...'."""
    return re.compile(r"^\[" + stage + r" *\] \w+ = ")
PARTICLE_SERIES = {"particles/histogram", "reverse/histogram"}

check = Checks()


def command(binary, nranks, extra):
    return ["mpiexec", "--oversubscribe", "-n", str(nranks), binary, "run", "--output=out.h5"] + extra


def fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def rank_pids(mpiexec_pid):
    out = subprocess.run(["pgrep", "-P", str(mpiexec_pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def interrupted(binary, nranks, extra, cwd, trigger, how):
    """Starts a run, waits for a stdout line matching `trigger` (or for
    `trigger` seconds when it is a number), then delivers `how`: 'TERM' to
    the ranks, 'USR1' to mpiexec, or 'KILL' to everything. Returns
    (exit code, stdout, stderr)."""
    p = subprocess.Popen(command(binary, nranks, extra), cwd=cwd, env=mpi_env(), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    seen = []
    deadline = time.monotonic() + TIMEOUT
    if isinstance(trigger, re.Pattern):
        for line in p.stdout:
            seen.append(line)
            if trigger.match(line) or time.monotonic() > deadline:
                break
    else:
        time.sleep(trigger)
    if how == "TERM":
        for pid in rank_pids(p.pid):
            os.kill(pid, signal.SIGTERM)
    elif how == "USR1":
        p.send_signal(signal.SIGUSR1)
    else:
        os.killpg(p.pid, signal.SIGKILL)
    try:
        out, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        check(False, f"hang after {how}: {' '.join(p.args)}")
    return p.returncode, "".join(seen) + out, err


def checkpoint_phase(cwd):
    """Stage recorded in the newest listed checkpoint, or None."""
    manifest = os.path.join(cwd, "out.checkpoints")
    if not os.path.exists(manifest):
        return None
    lines = [l.split() for l in open(manifest) if l.strip() and not l.startswith("#")]
    with h5py.File(os.path.join(cwd, lines[-1][1]), "r") as f:
        return f.attrs["stage"]


def compare(binary, reference, candidate, label, pde_rtol=0.0):
    """`twinflow diff` of the two outputs: identical, or (pde_rtol > 0) the
    particle series bit for bit and every other value within pde_rtol
    relative (1e-12 absolute), the round-off of a PDE reduced in another
    order, the mass drift (a round-off figure itself) not compared."""
    options = []
    if pde_rtol > 0:
        options = [f"--rtol={pde_rtol}", "--atol=1e-12", "--ignore-attribute=max_relative_mass_drift"]
        options += [f"--exact=/{series}" for series in sorted(PARTICLE_SERIES)]
    code, out, err = twinflow_diff(binary, os.path.dirname(candidate), reference, candidate, *options)
    check(code == 0, f"{label}: differs from the reference (twinflow diff, exit {code}):\n{out}{err}")


def resume(binary, nranks, extra, cwd, label):
    rc, out, err, secs = run_bounded(command(binary, nranks, extra + ["--restart=latest"]), cwd, TIMEOUT)
    print(f"check_restart: {label}: resume on {nranks} rank(s) -> exit {rc} in {secs:.1f} s")
    check(rc == 0, f"{label}: resume exit {rc}\n{err}")
    check(not os.path.exists(os.path.join(cwd, "out.checkpoints")), f"{label}: manifest left after a finished run")
    check(not [f for f in os.listdir(cwd) if ".checkpoint-" in f], f"{label}: checkpoint files left after a finished run")
    return rc == 0


def interrupt_and_resume(binary, nranks, extra, scratch, label, trigger, how, reference, resume_ranks=None,
                         pde_rtol=0.0, want_phase=None):
    cwd = fresh(os.path.join(scratch, label))
    rc, out, err = interrupted(binary, nranks, extra, cwd, trigger, how)
    phase = checkpoint_phase(cwd)
    print(f"check_restart: {label}: {how} -> exit {rc}, checkpoint in phase {phase}")
    if not check(rc == EXIT_CHECKPOINTED, f"{label}: expected exit {EXIT_CHECKPOINTED} after SIG{how}, got {rc}\n{err}"):
        return
    check("--restart=latest" in out, f"{label}: no resubmission hint on stdout")
    if want_phase:
        check(phase == want_phase, f"{label}: checkpoint in phase {phase}, aimed at {want_phase}")
    check(os.path.exists(os.path.join(cwd, "out.h5.partial")), f"{label}: the interrupted output is gone")
    if resume(binary, resume_ranks or nranks, extra, cwd, label):
        compare(binary, reference, os.path.join(cwd, "out.h5"), label, pde_rtol)


def sigkill_case(binary, nranks, extra, scratch, reference):
    label = "sigkill"
    cwd = fresh(os.path.join(scratch, label))
    p = subprocess.Popen(command(binary, nranks, extra + ["--checkpoint.every=steps:300"]), cwd=cwd,
                         env=mpi_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    manifest = os.path.join(cwd, "out.checkpoints")
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and p.poll() is None:
        if os.path.exists(manifest) and len([l for l in open(manifest) if l[0].isdigit()]) >= 2:
            break
        time.sleep(0.01)
    if not check(p.poll() is None, "sigkill: the run ended before two checkpoints were written"):
        return
    time.sleep(0.3)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    listed = [l.split() for l in open(manifest) if l[0].isdigit()]
    print(f"check_restart: sigkill: killed with {len(listed)} checkpoint(s) listed (newest in phase "
          f"{checkpoint_phase(cwd)})")
    check(len(listed) <= 2, f"sigkill: {len(listed)} checkpoints listed with checkpoint.keep=2")
    for entry in listed:
        check(os.path.exists(os.path.join(cwd, entry[1])), f"sigkill: listed checkpoint {entry[1]} is missing")
    with h5py.File(reference, "r") as ref:
        try:
            with h5py.File(os.path.join(cwd, "out.h5.partial"), "r") as part:
                complete = 0
                for series in ["pde/density", "particles/histogram", "reverse/histogram"]:
                    for j in range(part[series].shape[0]):
                        snap = part[series][j]
                        if np.isnan(snap).all():
                            continue
                        complete += 1
                        check(np.array_equal(snap, ref[series][j]),
                              f"sigkill: completed snapshot {series}[{j}] differs from the reference")
                print(f"check_restart: sigkill: partial output readable, {complete} completed snapshot(s)")
                check(complete > 0, "sigkill: no completed snapshot in the partial output")
        except OSError as e:
            check(False, f"sigkill: partial output unreadable after SIGKILL: {e}")
    if resume(binary, nranks, extra, cwd, label):
        compare(binary, reference, os.path.join(cwd, "out.h5"), label)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    binary, nranks, scratch = os.path.abspath(sys.argv[1]), int(sys.argv[2]), os.path.abspath(sys.argv[3])
    os.makedirs(scratch, exist_ok=True)

    full = nranks == 2
    families = FAMILY_RUNS if full else {}
    references = {}
    for name, extra in [("run", RUN), ("io", IO_HEAVY)] + list(families.items()):
        cwd = fresh(os.path.join(scratch, "reference-" + name))
        rc, out, err, secs = run_bounded(command(binary, nranks, extra), cwd, TIMEOUT)
        print(f"check_restart: reference ({name}) on {nranks} rank(s) -> exit {rc} in {secs:.1f} s")
        if not check(rc == 0, f"reference run ({name}) exit {rc}\n{err}"):
            return report("check_restart", check.failures)
        references[name] = os.path.join(cwd, "out.h5")

    for phase in ["pde", "forward", "reverse"]:
        interrupt_and_resume(binary, nranks, RUN, scratch, f"sigterm-{phase}", progress_line(phase), "TERM",
                             references["run"], want_phase=phase)
    interrupt_and_resume(binary, nranks, RUN, scratch, "sigusr1-mpiexec", progress_line("pde"), "USR1",
                         references["run"], want_phase="pde")
    for i, delay in enumerate([0.6, 1.2, 1.8] if full else [1.2]):
        interrupt_and_resume(binary, nranks, IO_HEAVY, scratch, f"sigterm-io-{i}", delay, "TERM", references["io"])
    for family, extra in families.items():
        interrupt_and_resume(binary, nranks, extra, scratch, f"sigterm-{family}-reverse", progress_line("reverse"),
                             "TERM", references[family], want_phase="reverse")
    sigkill_case(binary, nranks, RUN + ["--quiet"], scratch, references["run"])
    if nranks > 1:
        for phase in ["pde", "reverse"]:
            interrupt_and_resume(binary, nranks - 1, RUN, scratch, f"ranks-{nranks - 1}-to-{nranks}-{phase}",
                                 progress_line(phase), "TERM", references["run"], resume_ranks=nranks,
                                 pde_rtol=1e-10, want_phase=phase)
    return report("check_restart", check.failures)


if __name__ == "__main__":
    sys.exit(main())
