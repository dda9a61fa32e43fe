#!/usr/bin/python3
"""The KL study launcher (jobs/kl-study.sh) on bad and good run tables.

Usage: test_table_bad_input.py TWINFLOW_BINARY SCRATCH

Every bad input runs through `kl-study.sh check` and `kl-study.sh submit`
with a stand-in `sbatch` first on the PATH that only records its calls. Each
must exit with status 2, print exactly one line on stderr of the form
`kl-study: WHERE: COLUMN 'VALUE' ...; accepted: ...` naming the column and
the accepted values, call sbatch never, and create no output directory.

Then the good cases: the default table passes `check`; `submit` calls sbatch
twice (the array over every row with the frozen table, then the collector
with afterok on the array's id) and prints both ids; `kl_study.py args`
merges the study's defaults, the command line and a row's overrides with
each key once, the row winning.
"""
import json
import os
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from e2e_common import Checks, report  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAUNCHER = os.path.join(REPO, "jobs", "kl-study.sh")
KL_STUDY = os.path.join(REPO, "jobs", "kl_study.py")
DEFAULT_TABLE = os.path.join(REPO, "jobs", "kl-study.table")
GOOD = "ou rel-ei 30 6 0.5:-1.5:0.25;0.5:1.5:0.25"
OU_SCHEMES = "accepted: rel-ei, abs-ei, em, pf-ode"
STEPS = "accepted: an integer in [1, 1e+09]"
POSITIVE = "accepted: a real number > 0"
ROW = "accepted: one run per line: family scheme steps time_end target [--key=value ...]"
TARGET = "accepted: 'weight:mean:variance' components joined by ';'"
OVERRIDE = "accepted: --key=value, for any key but family, time.end, output, sampler_law"

# The stand-in sbatch: appends {"argv": [...], "env": {...}} to $FAKE_SBATCH_LOG
# and prints a job id like `sbatch --parsable` (1001, 1002, ...).
FAKE_SBATCH = """#!{python}
import json, os, sys
log = os.environ["FAKE_SBATCH_LOG"]
calls = sum(1 for _ in open(log)) if os.path.exists(log) else 0
with open(log, "a") as f:
    env = {{k: os.environ.get(k, "") for k in ("TWINFLOW", "TWINFLOW_JOBS", "TWINFLOW_PYTHON")}}
    f.write(json.dumps({{"argv": sys.argv[1:], "env": env}}) + "\\n")
print(1001 + calls)
"""


class Case:
    def __init__(self, name, table, where, column, value, accepted, args=(), env=None):
        self.name = name
        self.table = table        # table text, or None for a missing table file
        self.where = where        # "LINE", "" (the table as a whole), or another prefix after "kl-study: "
        self.column = column      # the column (or argument) the line must name
        self.value = value        # the offending value as quoted in the line, or None
        self.accepted = accepted  # text that must follow in the line
        self.args = list(args)    # extra launcher arguments
        self.env = env or {}


CASES = [
    Case("unknown-scheme", GOOD + "\nou rk4 30 6 1:0:1\n", "2", "scheme", "rk4", OU_SCHEMES),
    Case("unknown-kinetic-scheme", "kinetic leapfrog 30 6 1:0:1\n", "1", "scheme", "leapfrog",
         "accepted: rel-ei, abs-ei, em, pf-ode"),
    Case("unknown-family", "# a comment\n\nkac rel-ei 30 6 1:0:1\n", "3", "family", "kac",
         "accepted: ou, kinetic"),
    Case("zero-steps", "ou rel-ei 0 6 1:0:1\n", "1", "steps", "0", STEPS),
    Case("negative-steps", "ou rel-ei -15 6 1:0:1\n", "1", "steps", "-15", STEPS),
    Case("non-integer-steps", "ou rel-ei 2.5 6 1:0:1\n", "1", "steps", "2.5", STEPS),
    Case("non-numeric-steps", "ou rel-ei many 6 1:0:1\n", "1", "steps", "many", STEPS),
    Case("non-numeric-horizon", "ou rel-ei 30 six 1:0:1\n", "1", "time_end", "six", POSITIVE),
    Case("zero-horizon", "ou rel-ei 30 0 1:0:1\n", "1", "time_end", "0", POSITIVE),
    Case("negative-horizon", "ou rel-ei 30 -6 1:0:1\n", "1", "time_end", "-6", POSITIVE),
    Case("nan-horizon", "ou rel-ei 30 nan 1:0:1\n", "1", "time_end", "nan", POSITIVE),
    Case("short-row", GOOD + "\nou rel-ei 30 6\n", "2", "target", None, ROW),
    Case("one-column-row", "ou\n", "1", "scheme", None, ROW),
    Case("empty-table", "# only comments\n\n   \n# and blanks\n", "", "no runs", None, ROW),
    Case("empty-file", "", "", "no runs", None, ROW),
    Case("weights-not-summing-to-1", "ou rel-ei 30 6 0.5:0:1;0.4:1:1\n", "1", "target", "0.5:0:1;0.4:1:1", TARGET),
    Case("malformed-target", "ou rel-ei 30 6 0.5:-1.5\n", "1", "target", "0.5:-1.5", TARGET),
    Case("negative-variance", "ou rel-ei 30 6 1:0:-1\n", "1", "target", "1:0:-1", TARGET),
    Case("override-of-a-column", GOOD + " --ou.steps=5\n", "1", "override", "--ou.steps=5", OVERRIDE),
    Case("override-of-the-output", GOOD + " --output=x.h5\n", "1", "override", "--output=x.h5", OVERRIDE),
    Case("override-not-key-value", GOOD + " grid.cells=64\n", "1", "override", "grid.cells=64", OVERRIDE),
    Case("unbalanced-quote", GOOD + " '--seed=3\n", "1", "row", None, ROW),
    Case("argument-sets-a-column", GOOD + "\n", "command line", "argument", "--time.end=2", OVERRIDE,
         args=["--time.end=2"]),
    Case("argument-disables-the-law", GOOD + "\n", "command line", "argument", "--sampler_law=false", OVERRIDE,
         args=["--sampler_law=false"]),
    Case("bad-particle-count", GOOD + "\n", "environment", "TWINFLOW_PARTICLES", "lots",
         "accepted: an integer >= 1", env={"TWINFLOW_PARTICLES": "lots"}),
    Case("missing-table", None, "", "cannot read the table", None, "accepted: a readable text file"),
]

check = Checks()


def make_env(scratch, extra=None):
    """The environment with the stand-in sbatch first on the PATH."""
    fake_bin = os.path.join(scratch, "fake-bin")
    os.makedirs(fake_bin, exist_ok=True)
    sbatch = os.path.join(fake_bin, "sbatch")
    with open(sbatch, "w") as f:
        f.write(FAKE_SBATCH.format(python=sys.executable))
    os.chmod(sbatch, os.stat(sbatch).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    env = dict(os.environ)
    for k in ("TWINFLOW_OUTDIR", "TWINFLOW_PARTICLES"):
        env.pop(k, None)
    env["PATH"] = fake_bin + os.pathsep + env.get("PATH", "")
    env.update(extra or {})
    return env


def run(cmd, cwd, env):
    p = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def calls(log):
    if not os.path.exists(log):
        return []
    with open(log) as f:
        return [json.loads(line) for line in f]


def check_bad(case, scratch, binary):
    d = os.path.join(scratch, case.name)
    os.makedirs(d)
    table = os.path.join(d, "study.table")
    if case.table is not None:
        with open(table, "w") as f:
            f.write(case.table)
    log = os.path.join(d, "sbatch.log")
    env = make_env(scratch, {"TWINFLOW": binary, "FAKE_SBATCH_LOG": log, **case.env})
    where = {"": table, "command line": "command line", "environment": "environment"}.get(
        case.where, f"{table}:{case.where}")
    prefix = f"kl-study: {where}: {case.column}" + (f" '{case.value}'" if case.value is not None else "")
    for mode in ("check", "submit"):
        rc, out, err = run(["bash", LAUNCHER, mode, table] + case.args, d, env)
        lines = err.splitlines()
        what = f"{case.name} ({mode})"
        check(rc == 2, f"{what}: exit status {rc}, expected 2; stderr {err!r}")
        if check(len(lines) == 1, f"{what}: {len(lines)} lines on stderr, expected 1: {err!r}"):
            check(lines[0].startswith(prefix), f"{what}: stderr line {lines[0]!r} does not start with {prefix!r}")
            check(case.accepted in lines[0],
                  f"{what}: stderr line {lines[0]!r} does not give {case.accepted!r}")
        check(not calls(log), f"{what}: sbatch was called: {calls(log)}")
        made = [n for n in os.listdir(d) if n.startswith("kl-study-")]
        check(not made, f"{what}: created {made}")


def check_good(scratch, binary):
    d = os.path.join(scratch, "good")
    os.makedirs(d)
    log = os.path.join(d, "sbatch.log")
    env = make_env(scratch, {"TWINFLOW": binary, "FAKE_SBATCH_LOG": log})
    with open(DEFAULT_TABLE) as f:
        rows = sum(1 for line in f if line.split("#", 1)[0].strip())

    rc, out, err = run(["bash", LAUNCHER, "check"], d, env)
    check(rc == 0 and err == "", f"check of the default table: exit status {rc}, stderr {err!r}")
    check(out.count("twinflow run --family=") == rows, f"check printed {out.count('twinflow run')} runs, "
                                                       f"expected {rows}")
    check(not calls(log), "check called sbatch")

    rc, out, err = run(["bash", LAUNCHER, "submit", "--grid.cells=64"], d, env)
    check(rc == 0, f"submit of the default table: exit status {rc}; stderr {err!r}")
    made = [n for n in os.listdir(d) if n.startswith("kl-study-")]
    if not check(len(made) == 1, f"submit created {made}, expected one kl-study-<time> directory"):
        return
    outdir = os.path.realpath(os.path.join(d, made[0]))
    frozen = os.path.join(outdir, "kl-study.table")
    with open(DEFAULT_TABLE) as a, open(frozen) as b:
        check(a.read() == b.read(), "the output directory's kl-study.table differs from the table")
    c = calls(log)
    if not check(len(c) == 2, f"submit called sbatch {len(c)} times, expected 2: {c}"):
        return
    array, collector = c[0]["argv"], c[1]["argv"]
    jobs = os.path.join(REPO, "jobs")
    check("--parsable" in array and f"--array=0-{rows - 1}" in array,
          f"array submission lacks --parsable or --array=0-{rows - 1}: {array}")
    check(f"--output={outdir}/task-%3a.log" in array, f"array log not in the output directory: {array}")
    script = os.path.join(jobs, "kl-study.sbatch")
    check(script in array and array[array.index(script) + 1:] == [frozen, outdir, "--grid.cells=64"],
          f"array job arguments should be the frozen table, the directory and --grid.cells=64: {array}")
    check("--dependency=afterok:1001" in collector and collector[-2:] == [os.path.join(jobs, "kl-collect.sbatch"),
                                                                          outdir],
          f"collector submission should depend on 1001 and get the directory: {collector}")
    env_seen = c[0]["env"]
    check(env_seen["TWINFLOW"] == os.path.realpath(binary) and env_seen["TWINFLOW_JOBS"] == jobs
          and env_seen["TWINFLOW_PYTHON"], f"the jobs do not get TWINFLOW, TWINFLOW_JOBS, TWINFLOW_PYTHON: {env_seen}")
    check("array job 1001" in out and "collector job 1002" in out, f"submit does not print both job ids: {out!r}")

    # Row -> arguments: defaults < command line < row override, each key once.
    table = os.path.join(d, "merge.table")
    with open(table, "w") as f:
        f.write("kinetic em 40 2 '1:0.5:0.64' --grid.cells=32  # quoted target, trailing comment\n")
    rc, out, err = run([sys.executable, KL_STUDY, "args", table, "0", "/out", "--grid.cells=64", "--seed=5",
                        "--quiet=false"], d, make_env(scratch, {"TWINFLOW_PARTICLES": "1234"}))
    want = ["--family=kinetic", "--kinetic.scheme=em", "--kinetic.steps=40", "--time.end=2",
            "--kinetic.target=1:0.5:0.64", "--sampler_law=true", "--pde.enabled=false", "--time.snapshots=2",
            "--quiet=false", "--overwrite=true", "--particles.count=1234", "--grid.lower=-8", "--grid.upper=8",
            "--grid.cells=32", "--seed=5",
            "--output=/out/task-000.h5"]
    check(rc == 0 and out.splitlines() == want, f"args of the merge table: exit {rc}, got {out.splitlines()}, "
                                                f"expected {want}; stderr {err!r}")
    rc, out, err = run([sys.executable, KL_STUDY, "args", table, "1", "/out"], d, make_env(scratch))
    check(rc == 2 and err.startswith(f"kl-study: {table}: row '1' does not exist; accepted: 0..0"),
          f"args of a row past the end: exit {rc}, stderr {err!r}")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    scratch = os.path.abspath(sys.argv[2])
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    for case in CASES:
        check_bad(case, scratch, binary)
    check_good(scratch, binary)
    print(f"test_table_bad_input: {len(CASES)} bad inputs, through check and submit each; a good table")
    return report("test_table_bad_input", check.failures)


if __name__ == "__main__":
    sys.exit(main())
