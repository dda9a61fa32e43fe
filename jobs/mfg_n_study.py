#!/usr/bin/python3
"""The training-size study of the mfg family: its task list and its collector.

  mfg_n_study.py check [--key=value ...]              validate; print every task's arguments
  mfg_n_study.py count [--key=value ...]              validate; print the number of tasks
  mfg_n_study.py args TASK OUTDIR [--key=value ...]   validate; print the `twinflow run` arguments
                                                      of task TASK (0-based), one a line
  mfg_n_study.py collect OUTDIR                       table and plots of the runs in OUTDIR

Task i is one `twinflow run --family=mfg` with n_i training points, the
i-th entry of TWINFLOW_MFG_N (default "50 200 1000 5000"; integers in
[2, 10000000], at least two distinct ones, separated by blanks or commas).
The study's own arguments are --mfg.score=kernel --quiet=true
--overwrite=true: the kernel score drives the PDE and the main reverse twin,
the empirical score (and the exact one, for mixture data) run beside it;
the --key=value arguments override them and add others (--mfg.data,
--particles.count, --mfg.kernel.centres, ...).

`check`, `count` and `args` validate the environment and the arguments before
they print anything: a bad input is one line `mfg-n-study: WHERE: WHAT
'VALUE' PROBLEM; accepted: ...` on stderr and exit status 2. They need only
the standard library; `collect` also needs h5py, numpy and matplotlib.

`collect` reads every task's HDF5 file: n from the resolved configuration
(root attribute `config`, section [mfg]); per score (exact, empirical,
kernel) at s = T the memorised fraction and its standard error and the mean
distance to the nearest training point (/mfg/memorisation), the sliced W1 to
fresh data of the law and the mean log-likelihood under it
(/mfg/generalisation); the sliced W1's noise level, the fresh data's
log-likelihood and memorised fraction; the kernel's centres, TAO iterations
and training seconds (/mfg/kernel). It writes mfg-n-study.csv (one row per
run, NaN where a score or a law is missing), mfg_n_metrics.png (sliced W1,
memorised fraction and training time against n) and mfg_n_samples.png (every
score's generated density at s = T with the training points over it, one row
per n) into OUTDIR. Exit status 0 (the figures are a report, not an
acceptance test); 2 when OUTDIR holds no usable run.
"""
import configparser
import math
import os
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from study_common import (common_options, config_section, integer_list_from_environment,  # noqa: E402
                          plot_modules, read_runs, run_main, save, task_command, task_name, text, write_csv)

PROG = "mfg-n-study"

DEFAULT_SIZES = "50 200 1000 5000"
MIN_SIZE, MAX_SIZE = 2, 10**7       # a kernel needs a centre and a sample; twinflow's limit of mfg.train
SIZES_ACCEPTED = (f"at least two distinct integers in [{MIN_SIZE}, {MAX_SIZE}] separated by blanks or commas, "
                  f"e.g. '{DEFAULT_SIZES}'")

# The study's arguments; the command line overrides them.
STUDY_OPTIONS = OrderedDict([("mfg.score", "kernel"), ("quiet", "true"), ("overwrite", "true")])
# Keys the study sets per task, with the reason.
RESERVED = OrderedDict([("family", "the study (mfg)"),
                        ("output", "the study (task-NNN.h5 in the output directory)"),
                        ("mfg.train", "TWINFLOW_MFG_N")])

SCORES = ("exact", "empirical", "kernel")
# The stage whose histogram holds a score's generated samples: the main
# score's is /reverse, the others' /reverse_<score>.
MAIN_STAGE = "reverse"

# ----------------------------------------------------------------------------- the tasks


def training_sizes():
    """The list TWINFLOW_MFG_N, in its order."""
    return integer_list_from_environment("TWINFLOW_MFG_N", DEFAULT_SIZES, MIN_SIZE, MAX_SIZE, SIZES_ACCEPTED,
                                         "too few for a study against n")


def plan(extra):
    """[n] of every task and the options common to all."""
    return training_sizes(), common_options(extra, STUDY_OPTIONS, RESERVED)


def run_args(n, index, options, outdir):
    args = ["--family=mfg", f"--mfg.train={n}"]
    args += [f"--{k}={v}" for k, v in options.items()]
    args.append(f"--output={os.path.join(outdir, task_name(index) + '.h5')}")
    return args


def commands(command, argv):
    return task_command(PROG, command, argv, plan, run_args, lambda sizes: "n = " + ", ".join(map(str, sizes)))


# ----------------------------------------------------------------------------- the collector

PER_SCORE = ("memorised", "memorised_se", "nn_training", "sliced_w1", "loglik")
RUN_COLUMNS = (("file", "n", "data", "beta", "particles", "main_score", "centres", "kernel_iterations",
                "kernel_training_seconds", "baseline_memorised", "baseline_memorised_se", "loglik_data",
                "sliced_w1_noise")
               + tuple(f"{s}_{c}" for s in SCORES for c in PER_SCORE))
CSV_NAME, METRICS_NAME, SAMPLES_NAME = "mfg-n-study.csv", "mfg_n_metrics.png", "mfg_n_samples.png"


def rows_of(group):
    """{row name: {column: value}} of a table group with attribute `rows`."""
    names = text(group.attrs["rows"]).split(",")
    return {name: {k: float(group[k][i]) for k in group} for i, name in enumerate(names)}


def read_run(path, h5py):
    """One run as a dict of RUN_COLUMNS (plus the histograms it plots), or a
    string saying why it is skipped."""
    try:
        with h5py.File(path, "r") as f:
            family = text(f.attrs.get("family", "")).strip()
            if family != "mfg":
                return f"family '{family}', not mfg"
            missing = [d for d in ("mfg/memorisation", "mfg/generalisation", "mfg/training_points") if d not in f]
            if missing:
                return "lacks " + ", ".join("/" + d for d in missing)
            config = text(f.attrs.get("config", ""))
            mfg, particles = config_section(config, "mfg"), config_section(config, "particles")
            memorised, general = rows_of(f["mfg/memorisation"]), rows_of(f["mfg/generalisation"])
            main = mfg["score"]
            run = {"file": os.path.basename(path), "n": int(mfg["train"]), "data": mfg["data"],
                   "beta": float(mfg["beta"]), "particles": int(particles["count"]), "main_score": main}
            kernel = f["mfg/kernel"] if "mfg/kernel" in f else None
            run["centres"] = int(kernel["centres"].shape[0]) if kernel is not None else 0
            run["kernel_iterations"] = int(kernel.attrs["iterations"]) if kernel is not None else 0
            run["kernel_training_seconds"] = float(kernel.attrs["training_seconds"]) if kernel is not None else math.nan
            base = memorised.get("data baseline", {})
            run["baseline_memorised"] = base.get("fraction", math.nan)
            run["baseline_memorised_se"] = base.get("fraction_stderr", math.nan)
            any_row = next(iter(general.values()), {})
            run["loglik_data"] = any_row.get("loglik_data", math.nan)
            run["sliced_w1_noise"] = any_row.get("sliced_w1_noise", math.nan)
            run["histograms"], run["box"] = {}, None
            if "grid" in f and int(f["grid"].attrs["dim"]) == 2:
                run["box"] = (list(f["grid"].attrs["lower"]), list(f["grid"].attrs["upper"]))
            for s in SCORES:
                m, g = memorised.get(s, {}), general.get(s, {})
                run[f"{s}_memorised"] = m.get("fraction", math.nan)
                run[f"{s}_memorised_se"] = m.get("fraction_stderr", math.nan)
                run[f"{s}_nn_training"] = m.get("nn_distance_training", math.nan)
                run[f"{s}_sliced_w1"] = g.get("sliced_w1", math.nan)
                run[f"{s}_loglik"] = g.get("loglik", math.nan)
                stage = MAIN_STAGE if s == main else f"reverse_{s}"
                if run["box"] is not None and s in memorised and f"{stage}/histogram" in f:
                    run["histograms"][s] = f[f"{stage}/histogram"][-1]
            points = f["mfg/training_points"][...]
            run["training_points"] = points[:, :2] if points.shape[1] >= 2 else None
            return run
    except (OSError, KeyError, ValueError, TypeError, IndexError, configparser.Error) as e:
        return f"unreadable ({e})"


def print_table(runs):
    head = ["n"] + [f"{s[:5]}_{c}" for s in SCORES for c in ("mem", "sw1")] + ["noise", "base_mem", "train_s"]
    print("  " + "".join(f"{c:>11}" for c in head))
    for r in runs:
        cells = [r["n"]] + [r[f"{s}_{c}"] for s in SCORES for c in ("memorised", "sliced_w1")]
        cells += [r["sliced_w1_noise"], r["baseline_memorised"], r["kernel_training_seconds"]]
        print("  " + "".join(f"{c:>11}" if isinstance(c, int) else
                             f"{c:>11.4g}" if math.isfinite(c) else f"{'-':>11}" for c in cells))


def plot_metrics(path, runs, plt, np):
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.4))
    n = np.array([r["n"] for r in runs], dtype=float)
    w1, mem, train = axes
    for i, s in enumerate(SCORES):
        y = np.array([r[f"{s}_sliced_w1"] for r in runs])
        if np.any(np.isfinite(y)):
            w1.plot(n, y, "o-", color=f"C{i}", label=f"{s} score")
        y = np.array([r[f"{s}_memorised"] for r in runs])
        e = np.array([r[f"{s}_memorised_se"] for r in runs])
        if np.any(np.isfinite(y)):
            mem.errorbar(n, y, yerr=e, fmt="o-", color=f"C{i}", capsize=3, label=f"{s} score")
    noise = np.array([r["sliced_w1_noise"] for r in runs])
    if np.any(np.isfinite(noise)):
        w1.plot(n, noise, "k:", label="noise level (two samples of the law)")
    base = np.array([r["baseline_memorised"] for r in runs])
    mem.plot(n, base, "k:", label="fresh data of the law")
    w1.set_ylabel("sliced $W_1$ to fresh data at $s = T$")
    w1.set_yscale("log")
    mem.set_ylabel(r"memorised: $|x - NN_1| < |x - NN_2| / 3$")
    mem.set_ylim(-0.03, 1.05)
    seconds = np.array([r["kernel_training_seconds"] for r in runs])
    train.plot(n, seconds, "o-", color="C2", label="kernel training (TAO BLMVM)")
    for r in runs:
        train.annotate(f"M = {r['centres']}\n{r['kernel_iterations']} it.", (r["n"], r["kernel_training_seconds"]),
                       fontsize=7, textcoords="offset points", xytext=(4, -14))
    train.set_ylabel("training wall time [s]")
    train.set_yscale("log")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xticks(sorted({r["n"] for r in runs}), [str(v) for v in sorted({r["n"] for r in runs})])
        ax.set_xticks([], minor=True)
        ax.set_xlabel("training points n")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    data = ", ".join(sorted({r["data"] for r in runs}))
    fig.suptitle(f"mfg family, training-size study: data {data}, "
                 f"{', '.join(str(p) for p in sorted({r['particles'] for r in runs}))} generated samples", fontsize=9)
    fig.tight_layout()
    save(fig, path, plt)


def plot_samples(path, runs, plt, np):
    shown = [r for r in runs if r["histograms"]]
    scores = [s for s in SCORES if any(s in r["histograms"] for r in shown)]
    rows, cols = max(len(shown), 1), max(len(scores), 1)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    if not shown:
        axes[0][0].text(0.5, 0.5, "no 2-D run with histograms", ha="center", va="center")
    for i, r in enumerate(shown):
        (lo, hi), points = r["box"], r["training_points"]
        step = max(1, len(points) // 500) if points is not None else 1
        for j, s in enumerate(scores):
            ax = axes[i][j]
            if s in r["histograms"]:
                ax.imshow(np.asarray(r["histograms"][s]).T, origin="lower", extent=[lo[0], hi[0], lo[1], hi[1]],
                          cmap="viridis", interpolation="nearest")
            if points is not None:
                ax.plot(points[::step, 0], points[::step, 1], ".", color="white", markersize=1.5, alpha=0.8)
            ax.set_title(f"{s}, n = {r['n']}" + (f" (1 in {step} points shown)" if step > 1 else ""), fontsize=8)
            if points is not None and len(points) > 1:
                # The data's bounding box with a margin: the grid's box is the prior's, far wider.
                low, high = points.min(axis=0), points.max(axis=0)
                margin = 0.15 * (high - low).max()
                ax.set_xlim(max(lo[0], low[0] - margin), min(hi[0], high[0] + margin))
                ax.set_ylim(max(lo[1], low[1] - margin), min(hi[1], high[1] + margin))
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("generated density at s = T (histogram) and the training points (white)", fontsize=9)
    fig.tight_layout()
    save(fig, path, plt)


def collect(outdir):
    h5py, np, plt = plot_modules()
    runs = read_runs(PROG, outdir, lambda path: read_run(path, h5py), "a readable run of family mfg")
    runs.sort(key=lambda r: (r["n"], r["file"]))
    if len({(r["data"], r["beta"]) for r in runs}) > 1:
        print(f"{PROG}: warning: the runs differ in mfg.data or mfg.beta; the figures mix them", file=sys.stderr)
    write_csv(os.path.join(outdir, CSV_NAME), RUN_COLUMNS, runs)
    plot_metrics(os.path.join(outdir, METRICS_NAME), runs, plt, np)
    plot_samples(os.path.join(outdir, SAMPLES_NAME), runs, plt, np)
    print(f"{PROG}: {len(runs)} runs from {outdir}")
    print_table(runs)
    print(f"wrote {CSV_NAME}, {METRICS_NAME}, {SAMPLES_NAME} in {outdir}")
    return 0


def main(argv):
    return run_main(PROG, __doc__, argv, commands, collect)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
