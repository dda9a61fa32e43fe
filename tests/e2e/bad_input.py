#!/usr/bin/python3
"""End-to-end check that every class of bad input is rejected cleanly.

Usage: bad_input.py BINARY NRANKS SCRATCH [--jobs=J] [--timeout=SECONDS] [--only=NAME,...]

Each case runs `mpiexec --oversubscribe -n NRANKS BINARY ...` and must:
  * finish within the timeout (otherwise: "hang");
  * exit with code 2 (input rejected);
  * print exactly one line starting with "twinflow: error:" on stderr, in total
    over all ranks, and that line must name the offending key in quotes
    (e.g. 'ou.steps' or '--ou.steps');
  * not crash: no signal, no "terminate called", no MPI_ABORT, no core file;
  * leave neither the --output file, its .partial nor an .xmf sidecar behind
    (for "output exists": leave the existing file byte-for-byte untouched;
    for a rejected restart: leave the interrupted run's partial output, its
    checkpoints and manifest byte-for-byte untouched).

Cases run J at a time (default 4): a rejected run is mostly mpiexec waiting
on its ranks to wind down, so running them side by side costs little CPU.
Prints "N passed, M failed" at the end; exit status 0 only if all passed.
"""
import concurrent.futures
import glob
import os
import re
import shutil
import sys
import zlib
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import run_bounded  # noqa: E402

# Options added to every case whose own arguments do not set the key: they
# keep a run short should a bad input wrongly be accepted (the step count of
# the case's family only: another family's keys are refused).
SMALL_RUN = ["--quiet", "--pde.steps=20"]
FAMILY_SMALL = {"ou": ["--grid.cells=64", "--particles.count=2000", "--ou.steps=10"],
                "kac": ["--grid.cells=64", "--particles.count=2000", "--kac.steps=10"],
                "kinetic": ["--grid.cells=64", "--particles.count=2000", "--kinetic.steps=10"],
                # free's units are matrices: particles.count is refused there.
                "free": ["--grid.cells=64", "--free.matrices=4", "--free.matrix_size=4", "--free.steps=5",
                         "--free.jko_points=8"],
                # spin has no grid: grid keys are refused there.
                "spin": ["--particles.count=200", "--spin.L=6"],
                "mfg": ["--grid.cells=32", "--particles.count=2000", "--mfg.steps=5", "--mfg.train=20"]}
CRASH_MARKERS = ["terminate called", "Process received signal", "Segmentation fault", "core dumped",
                 "MPI_ABORT was invoked", "exited on signal", "Aborted"]


class Case:
    def __init__(self, name, args, key, command="run", output=True, small=True, setup=None,
                 exists=None, min_ranks=1, interrupted=False):
        self.name = name          # short identifier, also names the scratch files
        self.args = args          # arguments after the command
        self.key = key            # the key the error line must name
        self.command = command    # "run", or a bad command
        self.output = output      # pass a fresh --output path
        self.small = small        # add SMALL_RUN options
        self.setup = setup        # callable(output path) run before the case, after `interrupted`
        self.exists = exists      # "file" or "dir": the output path exists beforehand
        self.min_ranks = min_ranks
        self.interrupted = interrupted  # an interrupted run of the output precedes the case


def interrupt(mpiexec, binary, nranks, out_path, cwd, timeout):
    """Runs the case's output until its first step boundary: a wall-time
    limit of ~0 makes it write checkpoint 1 and exit 75. Returns a problem or None."""
    cmd = [mpiexec, "--oversubscribe", "-n", str(nranks), binary, "run", "--output=" + out_path,
           "--checkpoint.walltime=1e-9"] + SMALL_RUN + FAMILY_SMALL["ou"]
    rc, out, err, secs = run_bounded(cmd, cwd, timeout)
    return None if rc == 75 else f"setup: the interrupted run exited {rc}, expected 75: {err}"


def checkpoint_files(out_path):
    stem = out_path[:-3] if out_path.endswith(".h5") else out_path
    return sorted(glob.glob(stem + ".checkpoint-*") + glob.glob(stem + ".checkpoints") + [out_path + ".partial"])


def corrupt_checkpoint(out_path):
    path = glob.glob(out_path[:-3] + ".checkpoint-*.h5")[0]
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        f.write(b"corrupted by the bad-input test")


def downgrade_checkpoint(out_path):
    """Makes the newest checkpoint look like one of schema version 1 (an older
    twinflow), with the manifest updated so that only the schema differs."""
    import h5py
    import numpy as np
    manifest = out_path[:-3] + ".checkpoints"
    lines = open(manifest).read().splitlines()
    entry = lines[-1].split()
    path = os.path.join(os.path.dirname(out_path), entry[1])
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = np.int64(1)
    data = open(path, "rb").read()
    lines[-1] = f"{entry[0]} {entry[1]} {len(data)} {zlib.crc32(data) & 0xffffffff:08x}"
    write(manifest, "\n".join(lines) + "\n")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def make_cases(scratch, binary, mpiexec):
    d = scratch
    indef = os.path.join(d, "indef.txt")
    missing_mixture = os.path.join(d, "no-such-mixture.txt")
    bad_mixture = os.path.join(d, "bad-mixture.txt")
    unknown_ini = os.path.join(d, "unknown-key.ini")
    syntax_ini = os.path.join(d, "syntax.ini")
    range_ini = os.path.join(d, "range.ini")
    dup_ini = os.path.join(d, "duplicate.ini")
    empty_output_ini = os.path.join(d, "empty-output.ini")
    good_ini = os.path.join(d, "good.ini")
    config_dir = os.path.join(d, "config-dir.ini")
    corr = os.path.join(d, "correlated.txt")
    points_3 = os.path.join(d, "points-with-3-coordinates.txt")
    points_10 = os.path.join(d, "ten-points.txt")
    missing_model = os.path.join(d, "no-such-model.pt")
    corrupt_model = os.path.join(d, "corrupt-model.pt")
    small_model = os.path.join(d, "width-4.pt")

    def save_small_model(path):
        # A network of width 4 (the run's default is 256), saved by a short
        # run of its own; the case's output is not touched.
        where = os.path.join(d, "small-model")
        os.makedirs(where, exist_ok=True)
        out = os.path.join(where, "width-4.h5")
        cmd = [mpiexec, "--oversubscribe", "-n", "1", binary, "run", "--family=kac", "--quiet", "--output=" + out,
               "--overwrite=true", "--kac.velocity=nn", "--kac.nn.width=4", "--kac.nn.depth=1",
               "--kac.nn.iterations=2", "--kac.nn.batch=8", "--particles.count=16", "--kac.steps=2",
               "--pde.enabled=false"]
        rc, _, err, _ = run_bounded(cmd, where, 120)
        if rc != 0:
            raise RuntimeError(f"the run saving a small model exited {rc}: {err}")
        os.replace(os.path.join(where, "width-4.kac_velocity.pt"), path)

    def files(_):
        write(indef, "# weight, mean (2), covariance (2x2, row-major): eigenvalues 3 and -1\n1 0 0 1 2 2 1\n")
        write(bad_mixture, "0.5 0 1\n0.5 1\n")
        write(corrupt_model, "not a TorchScript archive\n")
        write(corr, "# weight, mean (2), covariance (2x2): positive definite, not diagonal\n1 0 0 1 0.5 0.5 1\n")
        write(unknown_ini, "[ou]\nstepz = 3\n")
        write(syntax_ini, "[ou]\nthis line has no equals sign\n")
        write(range_ini, "[time]\nend = 0\n")
        write(dup_ini, "[time]\nsnapshots = 3\nsnapshots = 4\n")
        write(empty_output_ini, "output =\n")
        write(good_ini, "[ou]\nsteps = 10\n")
        write(points_3, "# x y\n0 0\n1 2 3\n")
        write(points_10, "".join(f"{i} {-i}\n" for i in range(10)))
        os.makedirs(config_dir, exist_ok=True)
        if os.path.exists(missing_mixture):
            os.remove(missing_mixture)
    files(None)

    C = Case
    return [
        # Keys and values on the command line.
        C("unknown-key", ["--ou.stepz=5"], "ou.stepz"),
        C("unknown-key-no-value", ["--ou.stepz", "5"], "ou.stepz"),
        C("key-twice", ["--ou.steps=3", "--ou.steps=4"], "ou.steps"),
        C("empty-value", ["--ou.target="], "ou.target"),
        C("malformed-real", ["--time.end=abc"], "time.end"),
        C("nan-real", ["--time.end=nan"], "time.end"),
        C("inf-real", ["--time.end=inf"], "time.end"),
        C("malformed-integer", ["--particles.count=1.5"], "particles.count"),
        C("malformed-boolean", ["--overwrite=maybe"], "overwrite"),
        C("malformed-list", ["--grid.lower=a"], "grid.lower"),
        C("zero-horizon", ["--time.end=0"], "time.end"),
        C("negative-horizon", ["--time.end=-1"], "time.end"),
        C("zero-steps", ["--ou.steps=0"], "ou.steps"),
        C("zero-pde-steps", ["--pde.steps=0"], "pde.steps"),
        C("zero-cells", ["--grid.cells=0"], "grid.cells"),
        C("zero-particles", ["--particles.count=0"], "particles.count"),
        C("one-snapshot", ["--time.snapshots=1"], "time.snapshots"),
        C("negative-seed", ["--seed=-1"], "seed"),
        C("zero-progress-interval", ["--progress_interval=0"], "progress_interval"),
        C("dimension-out-of-range", ["--grid.dim=65"], "grid.dim"),
        C("pde-beyond-three-dimensions", ["--grid.dim=4"], "pde.enabled"),
        C("key-of-another-family", ["--family=kac", "--ou.steps=3"], "ou.steps"),
        C("misspelt-key-suggestion", ["--particles.cout=10"], "particles.cout"),
        C("list-length", ["--grid.cells=10,20"], "grid.cells"),
        C("lower-not-below-upper", ["--grid.lower=1", "--grid.upper=1"], "grid.upper"),
        C("grid-too-small-for-ranks", ["--grid.cells=1"], "grid.cells", min_ranks=2),
        # The data law.
        C("weight-not-positive", ["--ou.target=-0.5:0:1;1.5:1:1"], "ou.target"),
        C("weights-not-summing-to-1", ["--ou.target=0.5:0:1;0.4:1:1"], "ou.target"),
        C("negative-variance", ["--ou.target=1:0:-1"], "ou.target"),
        C("malformed-mixture", ["--ou.target=0.5:0"], "ou.target"),
        C("mean-of-wrong-dimension", ["--grid.dim=2", "--ou.target=1:0,0,0:1"], "ou.target"),
        C("indefinite-covariance-file", ["--grid.dim=2", "--ou.target=file:" + indef], "ou.target"),
        C("missing-mixture-file", ["--ou.target=file:" + missing_mixture], "ou.target"),
        C("malformed-mixture-file", ["--ou.target=file:" + bad_mixture], "ou.target"),
        # The kac family.
        C("kac-zero-rate", ["--family=kac", "--kac.a=0"], "kac.a"),
        C("kac-negative-speed", ["--family=kac", "--kac.c=-3"], "kac.c"),
        C("kac-zero-horizon", ["--family=kac", "--time.end=0"], "time.end"),
        C("kac-zero-steps", ["--family=kac", "--kac.steps=0"], "kac.steps"),
        C("kac-nn-zero-width", ["--family=kac", "--kac.velocity=nn", "--kac.nn.width=0"], "kac.nn.width"),
        C("kac-nn-zero-depth", ["--family=kac", "--kac.velocity=nn", "--kac.nn.depth=0"], "kac.nn.depth"),
        C("kac-nn-batch-below-ranks", ["--family=kac", "--kac.velocity=nn", "--kac.nn.batch=1"], "kac.nn.batch",
          min_ranks=2),
        C("kac-nn-without-particles", ["--family=kac", "--kac.velocity=nn", "--particles.enabled=false"],
          "kac.velocity"),
        C("kac-nn-missing-model", ["--family=kac", "--kac.velocity=nn", "--kac.nn.model=" + missing_model],
          "kac.nn.model"),
        C("kac-nn-corrupt-model", ["--family=kac", "--kac.velocity=nn", "--kac.nn.model=" + corrupt_model],
          "kac.nn.model"),
        C("kac-nn-model-of-another-shape", ["--family=kac", "--kac.velocity=nn", "--kac.nn.model=" + small_model],
          "kac.nn.model", setup=lambda _: save_small_model(small_model)),
        C("kac-nn-model-without-nn", ["--family=kac", "--kac.nn.model=" + small_model], "kac.nn.model"),
        C("kac-baseline-without-nn", ["--family=kac", "--kac.baseline=ve"], "kac.baseline"),
        C("kac-unknown-baseline", ["--family=kac", "--kac.velocity=nn", "--kac.baseline=ou"], "kac.baseline"),
        C("kac-missing-data-file", ["--family=kac", "--kac.data=file:" + missing_mixture], "kac.data"),
        C("kac-malformed-data-file", ["--family=kac", "--kac.data=file:" + bad_mixture], "kac.data"),
        C("kac-non-diagonal-data", ["--family=kac", "--grid.dim=2", "--kac.data=file:" + corr], "kac.data"),
        C("kac-unknown-integrator", ["--family=kac", "--kac.integrator=leapfrog"], "kac.integrator"),
        C("kac-pde-velocity-without-pde", ["--family=kac", "--kac.velocity=pde", "--pde.enabled=false"],
          "kac.velocity"),
        # The kinetic family and the sampler law.
        C("kinetic-two-dimensional-data", ["--family=kinetic", "--grid.dim=2"], "grid.dim"),
        C("kinetic-unknown-scheme", ["--family=kinetic", "--kinetic.scheme=leapfrog"], "kinetic.scheme"),
        C("kinetic-zero-steps", ["--family=kinetic", "--kinetic.steps=0"], "kinetic.steps"),
        C("kinetic-pde-score-without-pde", ["--family=kinetic", "--kinetic.score=pde", "--pde.enabled=false"],
          "kinetic.score"),
        C("kinetic-cells-list-length", ["--family=kinetic", "--grid.cells=10,20,30"], "grid.cells"),
        C("sampler-law-for-kac", ["--family=kac", "--sampler_law=true"], "sampler_law"),
        C("sampler-law-in-3d", ["--grid.dim=3", "--grid.cells=8", "--sampler_law=true"], "sampler_law"),
        C("sampler-law-odd-cells", ["--grid.cells=255", "--sampler_law=true"], "grid.cells"),
        C("sampler-law-point-mass", ["--ou.target=0.5:-1:0;0.5:1:0.25", "--sampler_law=true"], "ou.target"),
        C("sampler-law-not-boolean", ["--sampler_law=maybe"], "sampler_law"),
        # The free family.
        C("free-unknown-beta", ["--family=free", "--free.beta=4"], "free.beta"),
        C("free-matrix-of-one", ["--family=free", "--free.matrix_size=1"], "free.matrix_size"),
        C("free-zero-theta", ["--family=free", "--free.theta=0"], "free.theta"),
        C("free-negative-sigma", ["--family=free", "--free.sigma=-1"], "free.sigma"),
        C("free-weights", ["--family=free", "--free.data=0.5:-1:0;0.2:1:0"], "free.data"),
        C("free-negative-variance", ["--family=free", "--free.data=1:0:-1"], "free.data"),
        C("free-grid-short-of-support", ["--family=free", "--grid.lower=-2"], "grid.lower"),
        C("free-grid-short-of-support-above", ["--family=free", "--free.data=1:0:3", "--grid.lower=-5", "--grid.upper=3"],
          "grid.upper"),
        C("free-two-dimensional", ["--family=free", "--grid.dim=2"], "grid.dim"),
        C("free-particles-count", ["--family=free", "--particles.count=10"], "particles.count"),
        C("free-t-min-beyond-horizon", ["--family=free", "--free.t_min=3"], "free.t_min"),
        C("free-reverse-without-pde", ["--family=free", "--pde.enabled=false"], "pde.enabled"),
        C("free-unknown-sampler", ["--family=free", "--free.sampler=langevin"], "free.sampler"),
        C("free-jko-zero-tau", ["--family=free", "--free.jko_tau=0"], "free.jko_tau"),
        C("spin-unknown-model", ["--family=spin", "--spin.model=potts"], "spin.model"),
        C("spin-one-site", ["--family=spin", "--spin.L=1"], "spin.L"),
        C("spin-fredkin-odd-length", ["--family=spin", "--spin.model=fredkin", "--spin.L=7"], "spin.L"),
        C("spin-ising2d-too-wide", ["--family=spin", "--spin.model=ising2d", "--spin.width=9"], "spin.width"),
        C("spin-ising2d-tensors-too-large", ["--family=spin", "--spin.model=ising2d", "--spin.width=8", "--spin.L=100"],
          "spin.L"),
        C("spin-width-without-ising2d", ["--family=spin", "--spin.width=4"], "spin.width"),
        C("spin-negative-beta", ["--family=spin", "--spin.beta=-1"], "spin.beta"),
        C("spin-zero-gamma", ["--family=spin", "--spin.gamma=0"], "spin.gamma"),
        C("spin-c-one", ["--family=spin", "--spin.model=fredkin", "--spin.c=1"], "spin.c"),
        C("spin-c-zero", ["--family=spin", "--spin.model=fredkin", "--spin.c=0"], "spin.c"),
        C("spin-full-space-too-large", ["--family=spin", "--spin.L=30", "--spin.full_space=true"], "spin.full_space"),
        C("spin-grid-key", ["--family=spin", "--grid.cells=10"], "grid.cells"),
        C("spin-fredkin-t-min-zero", ["--family=spin", "--spin.model=fredkin", "--spin.t_min=0"], "spin.t_min"),
        C("spin-t-min-not-a-number", ["--family=spin", "--spin.t_min=soon"], "spin.t_min"),
        C("spin-unknown-mode", ["--family=spin", "--spin.mode=annealing"], "spin.mode"),
        C("spin-monte-carlo-key-in-twin-mode", ["--family=spin", "--spin.bond=4"], "spin.bond"),
        C("spin-twin-key-in-monte-carlo-mode", ["--family=spin", "--spin.mode=monte_carlo", "--spin.reverse=jump"],
          "spin.reverse"),
        C("spin-monte-carlo-at-beta-zero", ["--family=spin", "--spin.mode=monte_carlo", "--spin.beta=0"], "spin.beta"),
        C("spin-bond-zero", ["--family=spin", "--spin.mode=monte_carlo", "--spin.bond=0"], "spin.bond"),
        C("spin-too-few-steps-for-blocking", ["--family=spin", "--spin.mode=monte_carlo", "--spin.mc.steps=10"],
          "spin.mc.steps"),
        C("spin-too-few-learning-samples", ["--family=spin", "--spin.mode=monte_carlo", "--spin.mc.chains=32",
                                            "--spin.learn.samples=40"], "spin.learn.samples"),
        C("spin-zero-noise-time", ["--family=spin", "--spin.mode=monte_carlo", "--spin.connected.times=0.1,0"],
          "spin.connected.times"),
        C("spin-noise-time-not-a-number", ["--family=spin", "--spin.mode=monte_carlo", "--spin.connected.times=soon"],
          "spin.connected.times"),
        # The mfg family.
        C("mfg-zero-beta", ["--family=mfg", "--mfg.beta=0"], "mfg.beta"),
        C("mfg-zero-train", ["--family=mfg", "--mfg.train=0"], "mfg.train"),
        C("mfg-unknown-score", ["--family=mfg", "--mfg.score=neural"], "mfg.score"),
        C("mfg-unknown-toy-set", ["--family=mfg", "--mfg.data=toy:spiral", "--mfg.score=empirical"], "mfg.data"),
        C("mfg-exact-on-toy-set", ["--family=mfg", "--mfg.data=toy:moons"], "mfg.score"),
        C("mfg-exact-mixture-beta", ["--family=mfg", "--mfg.beta=0.8"], "mfg.score"),
        C("mfg-toy-set-in-3d", ["--family=mfg", "--mfg.data=toy:moons", "--mfg.score=empirical", "--grid.dim=3"],
          "grid.dim"),
        C("mfg-missing-points-file", ["--family=mfg", "--mfg.data=file:" + missing_mixture, "--mfg.score=empirical"],
          "mfg.data"),
        C("mfg-malformed-points-file", ["--family=mfg", "--mfg.data=file:" + points_3, "--mfg.score=empirical"],
          "mfg.data"),
        C("mfg-kernel-centres-all", ["--family=mfg", "--mfg.kernel.centres=500"], "mfg.kernel.centres"),
        C("mfg-kernel-samples-beyond-training", ["--family=mfg", "--mfg.kernel.samples=401"], "mfg.kernel.samples"),
        C("mfg-kernel-without-training", ["--family=mfg", "--mfg.score=kernel", "--mfg.train.iterations=0"],
          "mfg.train.iterations"),
        C("mfg-kernel-one-point", ["--family=mfg", "--mfg.score=kernel", "--mfg.train=1"], "mfg.train"),
        C("mfg-kernel-point-data", ["--family=mfg", "--mfg.score=kernel", "--mfg.data=1:0.5,0.5:0"], "mfg.data"),
        C("mfg-kernel-unknown-covariance", ["--family=mfg", "--mfg.kernel.covariance=diagonal"],
          "mfg.kernel.covariance"),
        C("mfg-train-all-of-file", ["--family=mfg", "--mfg.data=file:" + points_10, "--mfg.score=empirical",
                                    "--mfg.train=10"], "mfg.train"),
        # Choices and combinations.
        C("unknown-family", ["--family=nope"], "family"),
        C("unknown-scheme", ["--ou.scheme=rk4"], "ou.scheme"),
        C("pde-score-without-pde", ["--ou.score=pde", "--pde.enabled=false"], "ou.score"),
        C("nothing-to-compute", ["--pde.enabled=false", "--particles.enabled=false"], "pde.enabled"),
        # PETSc options.
        C("petsc-option-bad-value", ["-ts_type", "nonsense"], "PETSc options"),
        C("petsc-grid-option-bad-value", ["-da_refine", "-3"], "PETSc options"),
        C("petsc-prefixed-option-bad-value", ["--family=mfg", "--particles.enabled=false", "--grid.cells=16",
                                             "-controlled_ts_type", "nonsense"], "PETSc options"),
        # Config files.
        C("missing-config", [os.path.join(d, "nope.ini")], "config"),
        C("unreadable-config-directory", [config_dir], "config"),
        C("config-unknown-key", [unknown_ini], "ou.stepz"),
        C("config-syntax-error", [syntax_ini], "config"),
        C("config-value-out-of-range", [range_ini], "time.end"),
        C("config-key-twice", [dup_ini], "time.snapshots"),
        C("second-config-file", [good_ini, good_ini], "config"),
        # The output path.
        C("output-exists", [], "output", exists="file"),
        C("output-is-directory", ["--overwrite"], "output", exists="dir"),
        C("output-directory-missing", [], "output"),
        C("output-empty-in-config", [empty_output_ini], "output", output=False),
        # Checkpoint keys and restarts.
        C("checkpoint-every-unknown", ["--checkpoint.every=sometimes"], "checkpoint.every"),
        C("checkpoint-every-fraction-of-step", ["--checkpoint.every=steps:2.5"], "checkpoint.every"),
        C("checkpoint-walltime-malformed", ["--checkpoint.walltime=1:xx"], "checkpoint.walltime"),
        C("checkpoint-keep-zero", ["--checkpoint.keep=0"], "checkpoint.keep"),
        C("restart-without-checkpoint", ["--restart=latest"], "restart"),
        C("restart-finished-run", ["--restart=latest"], "restart", exists="file"),
        C("restart-corrupted-checkpoint", ["--restart=latest"], "restart", interrupted=True,
          setup=corrupt_checkpoint),
        C("restart-changed-physics", ["--restart=latest", "--grid.cells=32"], "grid.cells", interrupted=True),
        C("restart-changed-solver", ["--restart=latest", "-ts_type", "beuler"], "PETSc options", interrupted=True),
        C("restart-unlisted-checkpoint", ["--restart=" + good_ini], "restart", interrupted=True),
        C("restart-output-missing", ["--restart=latest"], "restart", interrupted=True,
          setup=lambda out: os.remove(out + ".partial")),
        C("fresh-run-over-checkpoints", [], "restart", interrupted=True),
        C("restart-old-checkpoint-schema", ["--restart=latest"], "restart", interrupted=True,
          setup=downgrade_checkpoint),
        # The command.
        C("unknown-command", [], "frobnicate", command="frobnicate", output=False, small=False),
    ]


def key_given(args, key):
    return any(a == "--" + key or a.startswith("--" + key + "=") for a in args)


def run_case(case, mpiexec, binary, nranks, scratch, timeout):
    """Returns (name, list of problems, seconds, command line)."""
    problems = []
    cwd = os.path.join(scratch, "cwd-" + case.name)
    shutil.rmtree(cwd, ignore_errors=True)
    os.makedirs(cwd)
    args = list(case.args)
    out_path = None
    if case.output:
        if case.name == "output-directory-missing":
            out_path = os.path.join(scratch, "nodir", case.name + ".h5")
            shutil.rmtree(os.path.dirname(out_path), ignore_errors=True)
        else:
            out_path = os.path.join(scratch, case.name + ".h5")
        for p in [out_path, out_path + ".partial"] + glob.glob(os.path.splitext(out_path)[0] + ".*xmf*"):
            if os.path.isdir(p):
                shutil.rmtree(p)
            elif os.path.exists(p):
                os.remove(p)
        args.append("--output=" + out_path)
    before = None
    if case.exists == "file":
        before = b"not an HDF5 file; must survive a rejected run\n" * 10
        with open(out_path, "wb") as f:
            f.write(before)
    elif case.exists == "dir":
        os.makedirs(out_path)
    kept = {}
    if case.interrupted:
        for p in checkpoint_files(out_path):
            if os.path.exists(p):
                os.remove(p)
        problem = interrupt(mpiexec, binary, nranks, out_path, cwd, timeout)
        if problem:
            return case.name, [problem], 0.0, [], ""
    if case.setup:
        case.setup(out_path)
    if case.interrupted:
        kept = {p: open(p, "rb").read() for p in checkpoint_files(out_path) if os.path.exists(p)}
    if case.small:
        family = next((a.split("=", 1)[1] for a in args if a.startswith("--family=")), "ou")
        small = SMALL_RUN + FAMILY_SMALL.get(family, [])
        args += [o for o in small if not key_given(args, o[2:].split("=")[0])]
    cmd = [mpiexec, "--oversubscribe", "-n", str(nranks), binary, case.command] + args
    rc, out, err, secs = run_bounded(cmd, cwd, timeout)
    if rc is None:
        return case.name, [f"hang: no exit within {timeout} s"], secs, cmd, err

    if rc != 2:
        problems.append(f"exit code {rc}, expected 2")
    lines = [l for l in err.splitlines() if l.startswith("twinflow: error:")]
    if len(lines) != 1:
        problems.append(f"{len(lines)} lines start with 'twinflow: error:' on stderr, expected exactly 1")
    if lines:
        pattern = re.compile("'(--)?" + re.escape(case.key) + "'")
        if not pattern.search(lines[0]):
            problems.append(f"the error line does not name '{case.key}': {lines[0]!r}")
    if any(l.startswith("twinflow: error:") for l in out.splitlines()):
        problems.append("an error line went to stdout")
    crash = [m for m in CRASH_MARKERS if m in err]
    if rc < 0 or rc > 128 or crash:
        problems.append(f"crash (exit {rc}; stderr mentions {crash})")
    cores = glob.glob(os.path.join(cwd, "core*"))
    if cores:
        problems.append(f"core dump(s) left: {cores}")
    if out_path:
        partial = out_path + ".partial"
        if case.exists == "file":
            with open(out_path, "rb") as f:
                if f.read() != before:
                    problems.append(f"the existing {out_path} was modified")
        elif case.exists == "dir":
            if not os.path.isdir(out_path) or os.listdir(out_path):
                problems.append(f"the existing directory {out_path} was replaced or modified")
        elif os.path.exists(out_path):
            problems.append(f"{out_path} exists afterwards")
        if kept:
            now = {p: open(p, "rb").read() for p in checkpoint_files(out_path) if os.path.exists(p)}
            if now != kept:
                problems.append("the interrupted run's partial output or checkpoints were modified")
        elif os.path.exists(partial):
            problems.append(f"{partial} exists afterwards")
        sidecars = glob.glob(os.path.splitext(out_path)[0] + ".*xmf*")
        if sidecars:
            problems.append(f"XDMF sidecars exist afterwards: {sidecars}")
    leftovers = [f for f in os.listdir(cwd) if f.endswith((".partial", ".h5", ".xmf", ".xmf2"))]
    if leftovers:
        problems.append(f"files left in the working directory: {leftovers}")
    return case.name, problems, secs, cmd, err


def main():
    pos = [a for a in sys.argv[1:] if not a.startswith("--")]
    opts = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
    if len(pos) != 3:
        sys.exit("usage: bad_input.py BINARY NRANKS SCRATCH [--jobs=J] [--timeout=SECONDS] [--only=NAME,...]")
    binary, nranks, scratch = os.path.abspath(pos[0]), int(pos[1]), os.path.abspath(pos[2])
    jobs = int(opts.get("jobs", 4))
    timeout = float(opts.get("timeout", 60))
    if not os.access(binary, os.X_OK):
        sys.exit(f"bad_input: FAIL: {binary} is not an executable")
    mpiexec = os.environ.get("MPIEXEC") or shutil.which("mpiexec") or shutil.which("mpirun")
    if not mpiexec:
        sys.exit("bad_input: FAIL: mpiexec not found")
    scratch = os.path.join(scratch, f"bad_input-{nranks}")
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)

    cases = make_cases(scratch, binary, mpiexec)
    if "only" in opts:
        wanted = set(opts["only"].split(","))
        cases = [c for c in cases if c.name in wanted]
    skipped = [c.name for c in cases if nranks < c.min_ranks]
    cases = [c for c in cases if nranks >= c.min_ranks]

    start = time.monotonic()
    passed, failed = 0, []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_case, c, mpiexec, binary, nranks, scratch, timeout) for c in cases]
        for fut in futures:
            name, problems, secs, cmd, err = fut.result()
            if problems:
                failed.append(name)
                print(f"FAIL {name} ({secs:.1f} s)")
                print("     command: " + " ".join(cmd))
                for m in problems:
                    print("     - " + m)
                shown = [l for l in err.splitlines() if l.strip() and not l.startswith("-----")][:6]
                for l in shown:
                    print("     | " + l)
            else:
                passed += 1
                print(f"ok   {name} ({secs:.1f} s)")
    for name in skipped:
        print(f"skip {name} (needs more than {nranks} rank(s))")
    print(f"{passed} passed, {len(failed)} failed"
          + (f" ({', '.join(failed)})" if failed else "")
          + f" in {time.monotonic() - start:.1f} s with {nranks} rank(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
