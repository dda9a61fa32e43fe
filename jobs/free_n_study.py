#!/usr/bin/python3
"""The matrix-size study of the free family: its task list and its collector.

  free_n_study.py check [--key=value ...]              validate; print every task's arguments
  free_n_study.py count [--key=value ...]              validate; print the number of tasks
  free_n_study.py args TASK OUTDIR [--key=value ...]   validate; print the `twinflow run` arguments
                                                       of task TASK (0-based), one a line
  free_n_study.py collect OUTDIR                       table, fitted rate and plot of the runs in OUTDIR

Task i is one `twinflow run --family=free` with matrix size N_i, the i-th
entry of TWINFLOW_FREE_N (default "50 100 200 400"; integers in [2, 100000],
at least two distinct ones, separated by blanks or commas), and
K_i = ceil(TWINFLOW_FREE_POINTS / N_i) matrices (TWINFLOW_FREE_POINTS default
40000), so that every run has about the same number K*N of eigenvalues and
the error left at large N is the finite-N bias, not the sampling noise. The
study's own arguments are --free.steps=0 --free.jko=false --quiet=true
--overwrite=true --free.beta=1 (GOE noise, whose mean density carries a 1/N
bias); the --key=value arguments override them and add others.

`check`, `count` and `args` validate the environment and the arguments before
they print anything: a bad input is one line `free-n-study: WHERE: WHAT
'VALUE' PROBLEM; accepted: ...` on stderr and exit status 2. They need only
the standard library; `collect` also needs h5py, numpy and matplotlib.

`collect` reads every task's HDF5 file: the forward twin's W1 and L1 between
the eigenvalue histogram and the PDE density (/compare/w1, /compare/l1) and
the noise floor (/compare/noise_floor_l1) at the last snapshot t = T, and the
particle second moment against its finite-N exact value
(/diagnostics/free/m2_particles, m2_particles_stderr,
m2_particles_finite_n_exact); N, K and beta come from the resolved
configuration (root attribute `config`, section [free]). It fits
W1 ~ C N^-p by least squares on log W1 against log N and writes
free-n-study.csv, free-n-rate.txt (the line `fitted rate p = ...`) and
free_n_w1.png into OUTDIR. Exit status 0 (the rate line says nan when fewer
than two sizes have a W1 > 0); 2 when OUTDIR holds no usable run.
"""
import configparser
import math
import os
import re
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from study_common import (common_options, config_section, integer_list_from_environment,  # noqa: E402
                          plot_modules, read_runs, rejected, replacing, run_main, save, task_command, task_name,
                          text, write_csv)

PROG = "free-n-study"

DEFAULT_SIZES = "50 100 200 400"
DEFAULT_POINTS = "40000"
MIN_SIZE, MAX_SIZE = 2, 100000      # twinflow's range of free.matrix_size
MAX_MATRICES = 10**9                # twinflow's upper limit of free.matrices
SIZES_ACCEPTED = (f"at least two distinct integers in [{MIN_SIZE}, {MAX_SIZE}] separated by blanks or "
                  f"commas, e.g. '{DEFAULT_SIZES}'")
POINTS_ACCEPTED = f"an integer in [1, {MAX_MATRICES:.0e}]"

# The study's arguments; the command line overrides them.
STUDY_OPTIONS = OrderedDict([("free.steps", "0"), ("free.jko", "false"), ("quiet", "true"),
                             ("overwrite", "true"), ("free.beta", "1")])
# Keys the study sets per task, with the reason.
RESERVED = OrderedDict([("family", "the study (free)"),
                        ("output", "the study (task-NNN.h5 in the output directory)"),
                        ("free.matrix_size", "TWINFLOW_FREE_N"),
                        ("free.matrices", "TWINFLOW_FREE_POINTS (ceil(points / N) matrices)")])

# ----------------------------------------------------------------------------- the tasks

def matrix_sizes():
    """The list TWINFLOW_FREE_N, in its order."""
    return integer_list_from_environment("TWINFLOW_FREE_N", DEFAULT_SIZES, MIN_SIZE, MAX_SIZE, SIZES_ACCEPTED,
                                         "too few to fit a rate")


def eigenvalue_points():
    points = os.environ.get("TWINFLOW_FREE_POINTS", DEFAULT_POINTS)
    if not re.fullmatch(r"[+-]?[0-9]+", points):
        raise rejected("environment", "TWINFLOW_FREE_POINTS", points, "is not an integer", POINTS_ACCEPTED)
    if not 1 <= int(points) <= MAX_MATRICES:
        raise rejected("environment", "TWINFLOW_FREE_POINTS", points, "is out of range", POINTS_ACCEPTED)
    return int(points)


def plan(extra):
    """[(N, K)] of every task and the options common to all."""
    sizes = matrix_sizes()
    points = eigenvalue_points()
    return [(n, -(-points // n)) for n in sizes], common_options(extra, STUDY_OPTIONS, RESERVED)


def run_args(task, index, options, outdir):
    size, matrices = task
    args = ["--family=free", f"--free.matrix_size={size}", f"--free.matrices={matrices}"]
    args += [f"--{k}={v}" for k, v in options.items()]
    args.append(f"--output={os.path.join(outdir, task_name(index) + '.h5')}")
    return args


def commands(command, argv):
    return task_command(PROG, command, argv, plan, run_args, lambda tasks: "N = " + ", ".join(str(n) for n, _ in tasks))


# ----------------------------------------------------------------------------- the collector

# One row per run, sorted by N.
RUN_COLUMNS = ("file", "N", "matrices", "eigenvalues", "beta", "time", "w1", "l1", "noise_floor_l1",
               "m2_particles", "m2_finite_n_exact", "m2_error", "m2_error_se")
CSV_NAME, RATE_NAME, PLOT_NAME = "free-n-study.csv", "free-n-rate.txt", "free_n_w1.png"


def last(group, name):
    return float(group[name][-1])


def read_run(path, h5py):
    """One run as a dict of RUN_COLUMNS, or a string saying why it is skipped."""
    try:
        with h5py.File(path, "r") as f:
            family = text(f.attrs.get("family", "")).strip()
            if family != "free":
                return f"family '{family}', not free"
            missing = [d for d in ("time", "compare/w1", "compare/l1", "compare/noise_floor_l1",
                                   "diagnostics/free/m2_particles", "diagnostics/free/m2_particles_stderr",
                                   "diagnostics/free/m2_particles_finite_n_exact") if d not in f]
            if missing:
                return "lacks " + ", ".join("/" + d for d in missing)
            free = config_section(text(f.attrs.get("config", "")), "free")
            compare, diagnostics = f["compare"], f["diagnostics/free"]
            run = {"file": os.path.basename(path), "N": int(free["matrix_size"]),
                   "matrices": int(free["matrices"]), "beta": int(free["beta"]), "time": last(f, "time"),
                   "w1": last(compare, "w1"), "l1": last(compare, "l1"),
                   "noise_floor_l1": last(compare, "noise_floor_l1"),
                   "m2_particles": last(diagnostics, "m2_particles"),
                   "m2_finite_n_exact": last(diagnostics, "m2_particles_finite_n_exact"),
                   "m2_error_se": last(diagnostics, "m2_particles_stderr")}
            run["eigenvalues"] = run["N"] * run["matrices"]
            run["m2_error"] = run["m2_particles"] - run["m2_finite_n_exact"]
            return run
    except (OSError, KeyError, ValueError, TypeError, IndexError, configparser.Error) as e:
        return f"unreadable ({e})"


def fit_rate(runs, np):
    """(p, C) of the least-squares line log W1 = log C - p log N over the runs
    with W1 > 0, or None when fewer than two sizes have one."""
    ok = [r for r in runs if r["w1"] > 0]
    if len({r["N"] for r in ok}) < 2:
        return None
    slope, log_c = np.polyfit(np.log([r["N"] for r in ok]), np.log([r["w1"] for r in ok]), 1)
    return -float(slope), math.exp(float(log_c))


def rate_line(runs, fit):
    sizes = sorted({r["N"] for r in runs})
    betas = ", ".join(str(b) for b in sorted({r["beta"] for r in runs}))
    times = ", ".join(f"{t:g}" for t in sorted({r["time"] for r in runs}))
    where = f"N = {sizes[0]}..{sizes[-1]}, beta = {betas}, t = {times}"
    if fit is None:
        return f"fitted rate p = nan (fewer than two sizes with W1 > 0; {len(sizes)} size(s), {where})"
    p, c = fit
    return (f"fitted rate p = {p:.4f} (W1 ~ {c:.4g} N^-{p:.4f}, least squares on log-log over {len(sizes)} sizes, "
            f"{where})")


def print_table(runs):
    head = ("N", "matrices", "w1", "l1", "floor_l1", "m2_error", "m2_se", "m2_z")
    print("  " + "".join(f"{c:>11}" for c in head))
    for r in runs:
        z = r["m2_error"] / r["m2_error_se"] if r["m2_error_se"] > 0 else math.nan
        cells = [r["N"], r["matrices"], r["w1"], r["l1"], r["noise_floor_l1"], r["m2_error"], r["m2_error_se"], z]
        print("  " + "".join(f"{c:>11}" if isinstance(c, int) else
                             f"{c:>11.4g}" if math.isfinite(c) else f"{'-':>11}" for c in cells))


def plot_w1(path, runs, fit, plt, np):
    pts = [r for r in runs if r["w1"] > 0]
    fig, ax = plt.subplots(figsize=(6.2, 4.8))
    sizes = np.array([r["N"] for r in pts], dtype=float)
    ax.plot(sizes, [r["w1"] for r in pts], "o", color="C0", label="$W_1$(eigenvalue histogram, PDE density)")
    if len(pts) > 0:
        span = np.geomspace(sizes.min(), sizes.max(), 50)
        if fit is not None:
            p, c = fit
            ax.plot(span, c * span ** -p, "-", color="C0", label=f"least squares: ${c:.3g}\\,N^{{-{p:.3f}}}$")
        # The reference slope through the point of the smallest N.
        first = min(pts, key=lambda r: r["N"])
        ax.plot(span, first["w1"] * first["N"] / span, "k:", label="reference slope $N^{-1}$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ticks = sorted({r["N"] for r in pts})
        ax.set_xticks(ticks, [str(n) for n in ticks])
        ax.set_xticks([], minor=True)
    else:
        ax.text(0.5, 0.5, "no run with W1 > 0", ha="center", va="center", transform=ax.transAxes)
    betas = ", ".join(str(b) for b in sorted({r["beta"] for r in runs}))
    points = ", ".join(str(e) for e in sorted({r["eigenvalues"] for r in runs}))
    ax.set_xlabel("matrix size N")
    ax.set_ylabel(f"$W_1$ at $t = T =$ {', '.join(f'{t:g}' for t in sorted({r['time'] for r in runs}))}")
    ax.set_title(f"free family: eigenvalues vs free Fokker–Planck, $\\beta$ = {betas}\n"
                 f"$K \\cdot N$ = {points} eigenvalues per run", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, path, plt)


def collect(outdir):
    h5py, np, plt = plot_modules()
    runs = read_runs(PROG, outdir, lambda path: read_run(path, h5py), "a readable run of family free")
    runs.sort(key=lambda r: (r["N"], r["file"]))
    if len({r["beta"] for r in runs}) > 1 or len({r["time"] for r in runs}) > 1:
        print(f"{PROG}: warning: the runs differ in beta or in T; the rate mixes them", file=sys.stderr)

    fit = fit_rate(runs, np)
    line = rate_line(runs, fit)
    write_csv(os.path.join(outdir, CSV_NAME), RUN_COLUMNS, runs)
    with replacing(os.path.join(outdir, RATE_NAME)) as tmp, open(tmp, "w") as f:
        f.write(line + "\n")
    plot_w1(os.path.join(outdir, PLOT_NAME), runs, fit, plt, np)

    print(f"{PROG}: {len(runs)} runs from {outdir}")
    print_table(runs)
    print(line)
    print(f"wrote {CSV_NAME}, {RATE_NAME}, {PLOT_NAME} in {outdir}")
    return 0


def main(argv):
    return run_main(PROG, __doc__, argv, commands, collect)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
