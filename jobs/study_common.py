"""What the studies' Python scripts in jobs/ share (kl_study.py,
free_n_study.py, mc_study.py): bad input as one line, the --key=value
arguments of every task, the check/count/args commands of a study whose
tasks come from lists, the collector's reading of a directory of runs, and
writing CSV files and plots atomically. Only the standard library is needed
here; the collectors import h5py, numpy and matplotlib through plot_modules().
"""
import configparser
import csv
import math
import os
import re
import shlex
import sys
import tempfile
from collections import OrderedDict
from contextlib import contextmanager

OPTION = re.compile(r"--([A-Za-z0-9_][A-Za-z0-9_.-]*)=(.*)\Z", re.S)


class InputError(Exception):
    """A rejected input; the message is the whole line after the program name."""


class Usage(Exception):
    """The command line does not fit the usage: run_main prints it, exit status 2."""


def rejected(where, column, value, problem, accepted):
    return InputError(f"{where}: {column} '{value}' {problem}; accepted: {accepted}")


def task_name(index):
    return f"task-{index:03d}"


def integer_list_from_environment(variable, default, lo, hi, accepted, too_few):
    """The distinct integers in [lo, hi] of the environment variable (default
    `default`), separated by blanks or commas, in their order; at least two
    (`too_few` says why fewer will not do)."""
    spec = os.environ.get(variable, default)
    values = []
    for entry in (e for e in re.split(r"[\s,]+", spec) if e):
        if not re.fullmatch(r"[+-]?[0-9]+", entry):
            raise rejected("environment", f"{variable} entry", entry, "is not an integer", accepted)
        if not lo <= int(entry) <= hi:
            raise rejected("environment", f"{variable} entry", entry, "is out of range", accepted)
        if int(entry) in values:
            raise rejected("environment", f"{variable} entry", entry, "appears twice", accepted)
        values.append(int(entry))
    if len(values) < 2:
        raise rejected("environment", variable, spec, f"has {len(values)} value(s), {too_few}", accepted)
    return values


def common_options(tokens, study_options, reserved):
    """The options of every task: the study's, overridden and extended by the
    --key=value tokens (each key once: twinflow rejects a key given twice).
    Malformed tokens and the keys the study sets per task (reserved: key ->
    what gives it) are refused."""
    accepted = "--key=value, for any key but " + ", ".join(reserved)
    options = OrderedDict(study_options)
    for token in tokens:
        m = OPTION.match(token)
        if not m:
            raise rejected("command line", "argument", token, "is not of the form --key=value", accepted)
        key, value = m.group(1), m.group(2)
        if key in reserved:
            raise rejected("command line", "argument", token, f"sets '{key}', which is given by {reserved[key]}",
                           accepted)
        options[key] = value
    return options


def task_command(prog, command, argv, plan, run_args, summary):
    """check, count or args of a study whose tasks come from the environment:
    plan(extra) -> (tasks, options); run_args(task, index, options, outdir)
    -> the `twinflow run` arguments; summary(tasks) -> the words after 'N runs'."""
    if command == "args":
        if len(argv) < 2:
            raise Usage()
        index, outdir, extra = argv[0], argv[1], argv[2:]
    else:
        extra = argv
    tasks, options = plan(extra)
    if command == "args":
        if not re.fullmatch(r"[0-9]+", index) or int(index) >= len(tasks):
            raise rejected("command line", "task", index, "does not exist", f"0..{len(tasks) - 1}")
        print("\n".join(run_args(tasks[int(index)], int(index), options, outdir)))
    elif command == "count":
        print(len(tasks))
    else:
        for index, task in enumerate(tasks):
            print(f"{task_name(index)}  twinflow run " + shlex.join(run_args(task, index, options, "OUTDIR")))
        print(f"{prog}: {len(tasks)} runs ({summary(tasks)}), valid")
    return 0


def text(value):
    if isinstance(value, bytes):
        return value.decode()
    if hasattr(value, "shape") and value.shape == (1,):
        return text(value[0])
    return str(value)


def config_section(config, section):
    """A section of the resolved INI text in a run's root attribute `config`
    (keys before any section header count as [general])."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(config if config.lstrip().startswith("[") else "[general]\n" + config)
    return parser[section]


def plot_modules():
    """(h5py, numpy, pyplot) for a collector, pyplot without a display."""
    try:
        import h5py
        import matplotlib
        import numpy as np
    except ImportError as e:
        raise InputError(f"collect needs h5py, numpy and matplotlib ({e}); accepted: a Python 3 with the "
                         "Debian packages python3-h5py python3-matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return h5py, np, plt


def read_runs(prog, outdir, read_run, what, skip=()):
    """read_run(path) of every .h5 file in outdir but those named in skip: a
    dict per run, or a string saying why the file is skipped (a warning)."""
    if not os.path.isdir(outdir):
        raise InputError(f"{outdir}: not a directory; accepted: the output directory of a study")
    files = sorted(n for n in os.listdir(outdir) if n.endswith(".h5") and n not in skip)
    runs = []
    for name in files:
        run = read_run(os.path.join(outdir, name))
        if isinstance(run, str):
            print(f"{prog}: warning: skipped {name}: {run}", file=sys.stderr)
        else:
            runs.append(run)
    if not runs:
        raise InputError(f"{outdir}: no usable run: {len(files)} .h5 file(s), none {what}; accepted: a "
                         "directory with the task-NNN.h5 files of a study")
    return runs


def fmt(x):
    """Numbers for the CSV files: round-trip exact; NaN as 'nan'."""
    if isinstance(x, float):
        return repr(x) if math.isfinite(x) else "nan"
    return str(x)


@contextmanager
def replacing(path):
    """Yields a temporary name next to path, renamed onto path on success
    with the mode any new file gets here (mkstemp's own is 0600, which would
    hide a study's results from the rest of a group)."""
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=os.path.dirname(path) or ".")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_csv(path, columns, rows):
    with replacing(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow([fmt(r[c]) for c in columns])


def save(fig, path, plt):
    with replacing(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def run_main(prog, doc, argv, commands, collect):
    """The command line of a study script: commands(command, args) for
    check, count and args; collect(outdir). Bad input: one line, exit 2."""
    def usage():
        print(doc.split("\n\n")[1], file=sys.stderr)
        return 2
    if len(argv) < 2:
        return usage()
    command = argv[1]
    try:
        if command in ("check", "count", "args"):
            return commands(command, argv[2:])
        if command == "collect" and len(argv) == 3:
            return collect(argv[2])
        return usage()
    except Usage:
        return usage()
    except InputError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
