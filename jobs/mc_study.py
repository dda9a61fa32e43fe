#!/usr/bin/python3
"""The Monte Carlo sweep of the spin family: its task list and its collector.

  mc_study.py check [--key=value ...]              validate; print every task's arguments
  mc_study.py count [--key=value ...]              validate; print the number of tasks
  mc_study.py args TASK OUTDIR [--key=value ...]   validate; print the `twinflow run` arguments
                                                   of task TASK (0-based), one a line
  mc_study.py collect OUTDIR                       tables, CSV, HDF5 and plots of the runs in OUTDIR

Every task is one `twinflow run --family=spin --spin.mode=monte_carlo`
(README, "Monte Carlo with a learned diffusion model"): the 2-D Ising model on
every cylinder W x L of TWINFLOW_MC_CYLINDERS (default "4x16 8x32") at every
beta of TWINFLOW_MC_BETAS (default "0.3 0.4406868 0.6"), then the Fredkin
chain of every length of TWINFLOW_MC_FREDKIN (default "40 100") at every c of
TWINFLOW_MC_C (default "0.3 0.5 0.7"). Lists are separated by blanks or
commas; an empty list leaves that model out. The study's own arguments are
--quiet=true --overwrite=true; the --key=value arguments override them and
add others (--spin.bond=8, --spin.mc.steps=4000, ...), for every task.

`check`, `count` and `args` validate the environment and the arguments before
they print anything: a bad input is one line `mc-study: WHERE: WHAT 'VALUE'
PROBLEM; accepted: ...` on stderr and exit status 2. They need only the
standard library; `collect` also needs h5py, numpy and matplotlib.

`collect` reads every task's /monte_carlo group and writes into OUTDIR:
mc-study.csv (one row per run, sampler, noise time and observable: mean,
standard error, exact value, error, z, acceptance, tau, effective samples
per second), mc-learning.csv (one row per run and learning round: direct
acceptance, NLL before and after training, the exact NLL and the gap),
mc-study.h5 (both tables as columns), mc-study.md (the comparison table in
Markdown), mc_ising2d.png (energy and |m| against beta with the exact values
and Onsager's curves), mc_fredkin.png (the area against c, and the height
profiles against the exact ones), mc_acceptance.png (acceptance against the
noise time T of the connected proposal, direct as T = inf) and mc_tau.png
(the energy's or area's autocorrelation time per sampler). Exit status 0; 2
when OUTDIR holds no usable run.
"""
import math
import os
import re
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from study_common import (common_options, config_section, plot_modules, read_runs, rejected,  # noqa: E402
                          replacing, run_main, save, task_command, task_name, text, write_csv)

PROG = "mc-study"

DEFAULTS = OrderedDict([("TWINFLOW_MC_CYLINDERS", "4x16 8x32"), ("TWINFLOW_MC_BETAS", "0.3 0.4406868 0.6"),
                        ("TWINFLOW_MC_FREDKIN", "40 100"), ("TWINFLOW_MC_C", "0.3 0.5 0.7")])
# twinflow's limits: ising2d 3 <= W <= 8 and 2 W L 4^W <= 2^26; Fredkin even L <= 256.
MAX_WIDTH, TENSOR_LIMIT, MAX_FREDKIN = 8, 2 ** 26, 256
ACCEPTED = OrderedDict([
    ("TWINFLOW_MC_CYLINDERS", f"cylinders WxL with 3 <= W <= {MAX_WIDTH}, L >= 2 and 2 W L 4^W <= 2^26, separated "
                              "by blanks or commas, e.g. '4x16 8x32' (empty: no 2-D runs)"),
    ("TWINFLOW_MC_BETAS", "reals beta > 0 separated by blanks or commas, e.g. '0.3 0.4406868 0.6'"),
    ("TWINFLOW_MC_FREDKIN", f"even integers 2..{MAX_FREDKIN} separated by blanks or commas, e.g. '40 100' "
                            "(empty: no Fredkin runs)"),
    ("TWINFLOW_MC_C", "reals 0 < c < 1 separated by blanks or commas, e.g. '0.3 0.5 0.7'")])

STUDY_OPTIONS = OrderedDict([("quiet", "true"), ("overwrite", "true")])
RESERVED = OrderedDict([("family", "the study (spin)"), ("spin.mode", "the study (monte_carlo)"),
                        ("output", "the study (task-NNN.h5 in the output directory)"),
                        ("spin.model", "the study (ising2d, then fredkin)"),
                        ("spin.width", "TWINFLOW_MC_CYLINDERS"), ("spin.L", "TWINFLOW_MC_CYLINDERS and "
                                                                            "TWINFLOW_MC_FREDKIN"),
                        ("spin.beta", "TWINFLOW_MC_BETAS"), ("spin.c", "TWINFLOW_MC_C")])


# ----------------------------------------------------------------------------- the tasks

def entries(variable):
    spec = os.environ.get(variable, DEFAULTS[variable])
    return [e for e in re.split(r"[\s,]+", spec) if e]


def bad(variable, entry, problem):
    return rejected("environment", variable + " entry", entry, problem, ACCEPTED[variable])


def reals(variable, ok):
    values = []
    for entry in entries(variable):
        try:
            value = float(entry)
        except ValueError:
            raise bad(variable, entry, "is not a number") from None
        if not (math.isfinite(value) and ok(value)):
            raise bad(variable, entry, "is out of range")
        values.append(value)
    return values


def cylinders():
    out = []
    for entry in entries("TWINFLOW_MC_CYLINDERS"):
        m = re.fullmatch(r"([0-9]+)x([0-9]+)", entry)
        if not m:
            raise bad("TWINFLOW_MC_CYLINDERS", entry, "is not of the form WxL")
        w, length = int(m.group(1)), int(m.group(2))
        if not (3 <= w <= MAX_WIDTH and length >= 2 and 2 * w * length * 4 ** w <= TENSOR_LIMIT):
            raise bad("TWINFLOW_MC_CYLINDERS", entry, "is out of range")
        out.append((w, length))
    return out


def fredkin_lengths():
    out = []
    for entry in entries("TWINFLOW_MC_FREDKIN"):
        if not re.fullmatch(r"[0-9]+", entry):
            raise bad("TWINFLOW_MC_FREDKIN", entry, "is not an integer")
        if not (2 <= int(entry) <= MAX_FREDKIN and int(entry) % 2 == 0):
            raise bad("TWINFLOW_MC_FREDKIN", entry, "is out of range")
        out.append(int(entry))
    return out


def plan(extra):
    """The tasks, each a dict of the spin.* keys the study sets, and the options common to all."""
    tasks = []
    cyl, lengths = cylinders(), fredkin_lengths()
    betas = reals("TWINFLOW_MC_BETAS", lambda b: b > 0) if cyl else []
    cs = reals("TWINFLOW_MC_C", lambda c: 0 < c < 1) if lengths else []
    for w, length in cyl:
        tasks += [OrderedDict([("model", "ising2d"), ("width", w), ("L", length), ("beta", b)]) for b in betas]
    for length in lengths:
        tasks += [OrderedDict([("model", "fredkin"), ("L", length), ("c", c)]) for c in cs]
    if not tasks:
        raise rejected("environment", "TWINFLOW_MC_CYLINDERS and TWINFLOW_MC_FREDKIN", "", "give no run",
                       "at least one cylinder with one beta, or one Fredkin length with one c")
    return tasks, common_options(extra, STUDY_OPTIONS, RESERVED)


def run_args(task, index, options, outdir):
    args = ["--family=spin", "--spin.mode=monte_carlo"] + [f"--spin.{k}={v}" for k, v in task.items()]
    args += [f"--{k}={v}" for k, v in options.items()]
    args.append(f"--output={os.path.join(outdir, task_name(index) + '.h5')}")
    return args


def commands(command, argv):
    def summary(tasks):
        n2d = sum(1 for t in tasks if t["model"] == "ising2d")
        return f"{n2d} ising2d, {len(tasks) - n2d} fredkin"
    return task_command(PROG, command, argv, plan, run_args, summary)


# ----------------------------------------------------------------------------- the collector

SAMPLERS = ("metropolis", "wolff", "direct", "connected")
COLUMNS = ("file", "model", "width", "L", "beta", "c", "steps", "sampler", "noise_time", "observable", "mean",
           "standard_error", "exact", "error", "z", "acceptance", "tau", "effective_samples", "seconds",
           "ess_per_second")
LEARNING_COLUMNS = ("file", "model", "width", "L", "beta", "c", "bond", "round", "acceptance", "nll_before",
                    "nll_after", "nll_exact", "gap", "tao_iterations", "training_seconds")
SUMMARY = ("mc-study.h5",)
NAN = math.nan


def onsager(beta, np):
    """Onsager's energy per site and Yang's magnetisation of the square lattice
    (J = 1) at the betas, K(k) from the arithmetic-geometric mean."""
    beta = np.asarray(beta, dtype=float)
    s = np.sinh(2 * beta)
    k = 2 * s / np.cosh(2 * beta) ** 2
    a, b = np.ones_like(k), np.sqrt(np.maximum(1 - k * k, 0))
    for _ in range(40):
        a, b = (a + b) / 2, np.sqrt(a * b)
    with np.errstate(divide="ignore", invalid="ignore"):
        kk = np.where(b > 0, np.pi / (2 * a), np.inf)
        term = np.where(np.isfinite(kk), 2 / np.pi * (2 * np.tanh(2 * beta) ** 2 - 1) * kk, 0.0)
        energy = -(1 + term) / np.tanh(2 * beta)
        magnetisation = np.where(s > 1, np.abs(1 - s ** -4.0) ** 0.125, 0.0)
    return energy, magnetisation


def read_run(path, h5py):
    """(rows of COLUMNS, rows of LEARNING_COLUMNS, profiles) of one run, or
    a string saying why it is skipped."""
    try:
        with h5py.File(path, "r") as f:
            if text(f.attrs.get("family", "")).strip() != "spin" or "monte_carlo" not in f:
                return "not a spin.mode=monte_carlo run (no /monte_carlo group)"
            spin = config_section(text(f.attrs.get("config", "")), "spin")
            mc = f["monte_carlo"]
            base = {"file": os.path.basename(path), "model": spin["model"], "L": int(spin["L"]),
                    "steps": int(spin["mc.steps"]),
                    "width": int(spin["width"]) if spin["model"] == "ising2d" else 1,
                    "beta": float(spin["beta"]) if spin["model"] == "ising2d" else NAN,
                    "c": float(spin["c"]) if spin["model"] == "fredkin" else NAN}
            exact = {name: float(mc["exact"][name][0]) for name in mc["exact"] if name != "profile"}
            rows = []
            for sampler in SAMPLERS:
                if sampler not in mc:
                    continue
                g = mc[sampler]
                times = g["noise_time"][...] if "noise_time" in g else [NAN]
                for k, t in enumerate(times):
                    for name, value in exact.items():
                        o = g[name]
                        mean, se = float(o["mean"][k]), float(o["standard_error"][k])
                        error = mean - value
                        rows.append(dict(base, sampler=sampler, noise_time=float(t), observable=name, mean=mean,
                                         standard_error=se, exact=value, error=error,
                                         z=error / se if se > 0 else
                                         (0.0 if abs(error) <= 1e-12 * max(1.0, abs(value)) else NAN),
                                         acceptance=float(g["acceptance"][k]), tau=float(o["tau"][k]),
                                         effective_samples=float(o["effective_samples"][k]),
                                         seconds=float(g["seconds"][k]),
                                         ess_per_second=float(o["effective_samples"][k]) / float(g["seconds"][k])))
            learning = []
            if "learn" in mc:
                g = mc["learn"]
                bond = int(g["nll_after"].attrs["bond"])
                for r in range(len(g["nll_after"])):
                    learning.append(dict(base, bond=bond, round=r + 1, acceptance=float(g["acceptance"][r]),
                                         nll_before=float(g["nll_before"][r]), nll_after=float(g["nll_after"][r]),
                                         nll_exact=float(g["nll_exact"][r]),
                                         gap=float(g["nll_after"][r]) - float(g["nll_exact"][r]),
                                         tao_iterations=float(g["tao_iterations"][r]),
                                         training_seconds=float(g["training_seconds"][r])))
            profiles = {}
            if "profile" in mc["exact"]:
                profiles["exact"] = mc["exact"]["profile"][...]
                for sampler in SAMPLERS:
                    if sampler in mc and "profile" in mc[sampler]:
                        profiles[sampler] = mc[sampler]["profile"][-1]
            return {"base": base, "rows": rows, "learning": learning, "profiles": profiles}
    except (OSError, KeyError, ValueError, TypeError, IndexError) as e:
        return f"unreadable ({e})"


def primary(model):
    return "energy" if model == "ising2d" else "area"


def label(row):
    return row["sampler"] + (f" T={row['noise_time']:g}" if row["sampler"] == "connected" else "")


def case(row):
    if row["model"] == "ising2d":
        return f"ising2d {row['width']}×{row['L']}, β = {row['beta']:g}"
    return f"fredkin L = {row['L']}, c = {row['c']:g}"


def markdown(runs):
    """The comparison table: per run and sampler, the error of the two
    observables in standard errors, the acceptance, τ and ESS/s. A τ above
    M/64 (fewer than 32 blocks of 2τ steps) is marked †: the blocking error
    bar, and with it z, is not to be trusted there."""
    lines = ["| model | sampler | acceptance | energy or area: error (z) | \\|m\\| or h_{L/2}: error (z) | τ | ESS/s |",
             "|---|---|---|---|---|---|---|"]
    for run in runs:
        rows = run["rows"]
        second = "abs_magnetisation" if run["base"]["model"] == "ising2d" else "height_centre"
        keys = OrderedDict()
        for r in rows:
            keys.setdefault((r["sampler"], r["noise_time"] if r["sampler"] == "connected" else 0), []).append(r)
        for group in keys.values():
            by = {r["observable"]: r for r in group}
            a, b = by[primary(run["base"]["model"])], by[second]
            cells = [case(a), label(a), f"{a['acceptance']:.3f}", f"{a['error']:+.2e} ({a['z']:+.1f})",
                     f"{b['error']:+.2e} ({b['z']:+.1f})",
                     f"{a['tau']:.3g}" + (" †" if a["tau"] > a["steps"] / 64 else ""), f"{a['ess_per_second']:.3g}"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_h5(path, rows, learning, h5py, np):
    with replacing(path) as tmp, h5py.File(tmp, "w") as f:
        for group, columns, table in (("runs", COLUMNS, rows), ("learning", LEARNING_COLUMNS, learning)):
            g = f.create_group(group)
            for c in columns:
                values = [r[c] for r in table]
                if values and isinstance(values[0], str):
                    g.create_dataset(c, data=np.array(values, dtype=h5py.string_dtype()))
                else:
                    g.create_dataset(c, data=np.array(values, dtype=float))


def plot_ising2d(path, rows, plt, np):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    twod = [r for r in rows if r["model"] == "ising2d"]
    betas = sorted({r["beta"] for r in twod})
    for ax, name, title in ((axes[0], "energy", "energy per site"), (axes[1], "abs_magnetisation", "⟨|m|⟩")):
        if betas:
            span = np.linspace(min(betas) * 0.9, max(betas) * 1.05, 300)
            ax.plot(span, onsager(span, np)[0 if name == "energy" else 1], "k-", lw=1, label="Onsager (∞ lattice)")
        for i, size in enumerate(sorted({(r["width"], r["L"]) for r in twod})):
            mine = sorted((r for r in twod if (r["width"], r["L"]) == size and r["observable"] == name),
                          key=lambda r: r["beta"])
            exact = OrderedDict((r["beta"], r["exact"]) for r in mine)
            ax.plot(list(exact), list(exact.values()), "--", color=f"C{i}", lw=1,
                    label=f"exact {size[0]}×{size[1]} (MPS)")
            for j, sampler in enumerate(sorted({label(r) for r in mine})):
                pts = [r for r in mine if label(r) == sampler]
                offset = (j - 2) * 0.002
                ax.errorbar([r["beta"] + offset for r in pts], [r["mean"] for r in pts],
                            yerr=[r["standard_error"] for r in pts], fmt="o", ms=3, color=f"C{i}",
                            alpha=0.4 + 0.6 * (j + 1) / 6, label=f"{sampler} {size[0]}×{size[1]}" if i == 0 else None)
        ax.axvline(0.5 * math.log(1 + math.sqrt(2)), color="grey", lw=0.5, ls=":")
        ax.set_xlabel("β")
        ax.set_title(f"2-D Ising: {title}", fontsize=10)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    save(fig, path, plt)


def plot_fredkin(path, runs, plt):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    fred = [r for run in runs for r in run["rows"] if r["model"] == "fredkin" and r["observable"] == "area"]
    for i, length in enumerate(sorted({r["L"] for r in fred})):
        mine = sorted((r for r in fred if r["L"] == length), key=lambda r: r["c"])
        exact = OrderedDict((r["c"], r["exact"] / length ** 1.5) for r in mine)
        axes[0].plot(list(exact), list(exact.values()), "-", color=f"C{i}", lw=1, label=f"exact L = {length}")
        for sampler in sorted({label(r) for r in mine}):
            pts = [r for r in mine if label(r) == sampler]
            axes[0].errorbar([r["c"] for r in pts], [r["mean"] / length ** 1.5 for r in pts],
                             yerr=[r["standard_error"] / length ** 1.5 for r in pts], fmt="o", ms=3, color=f"C{i}",
                             alpha=0.6)
    axes[0].set_xlabel("c")
    axes[0].set_ylabel("area / L^{3/2}")
    axes[0].set_title("Fredkin chain: area (points: every sampler)", fontsize=10)
    axes[0].grid(True, alpha=0.3)
    axes[0].legend(fontsize=7)
    longest = max((run for run in runs if run["profiles"]), key=lambda run: run["base"]["L"], default=None)
    if longest:
        same = [run for run in runs if run["profiles"] and run["base"]["L"] == longest["base"]["L"]]
        for i, run in enumerate(sorted(same, key=lambda run: run["base"]["c"])):
            p = run["profiles"]
            k = range(1, len(p["exact"]) + 1)
            axes[1].plot(k, p["exact"], "-", color=f"C{i}", lw=1, label=f"exact c = {run['base']['c']:g}")
            for sampler in ("metropolis", "direct"):
                if sampler in p:
                    axes[1].plot(k, p[sampler], "." if sampler == "direct" else "x", ms=3, color=f"C{i}",
                                 label=f"{sampler}" if i == 0 else None)
        axes[1].set_title(f"height profile ⟨h_k⟩, L = {longest['base']['L']}", fontsize=10)
        axes[1].set_xlabel("k")
        axes[1].grid(True, alpha=0.3)
        axes[1].legend(fontsize=7)
    fig.tight_layout()
    save(fig, path, plt)


def plot_acceptance(path, rows, plt):
    fig, ax = plt.subplots(figsize=(6.2, 4.6))
    cases = OrderedDict()
    for r in rows:
        if r["observable"] == primary(r["model"]) and r["sampler"] in ("direct", "connected"):
            cases.setdefault(case(r), []).append(r)
    for i, (name, rs) in enumerate(cases.items()):
        conn = sorted((r for r in rs if r["sampler"] == "connected"), key=lambda r: r["noise_time"])
        line = ax.plot([r["noise_time"] for r in conn], [r["acceptance"] for r in conn], "o-", ms=3,
                       color=f"C{i % 10}", label=name)[0]
        for r in rs:
            if r["sampler"] == "direct":
                ax.axhline(r["acceptance"], color=line.get_color(), ls=":", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("noise time T of the connected proposal (dotted: direct, T = ∞)")
    ax.set_ylabel("acceptance")
    ax.set_title("Metropolis–Hastings acceptance of the diffusion proposals", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6)
    fig.tight_layout()
    save(fig, path, plt)


def plot_tau(path, rows, plt):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax, model, x, xlabel in ((axes[0], "ising2d", "beta", "β"), (axes[1], "fredkin", "c", "c")):
        mine = [r for r in rows if r["model"] == model and r["observable"] == primary(model)]
        sizes = sorted({(r["width"], r["L"]) for r in mine})
        for j, sampler in enumerate(sorted({label(r) for r in mine})):
            for i, size in enumerate(sizes):
                pts = sorted((r for r in mine if label(r) == sampler and (r["width"], r["L"]) == size),
                             key=lambda r: r[x])
                ax.plot([r[x] for r in pts], [r["tau"] for r in pts], "o-" if i == 0 else "s--", ms=3,
                        color=f"C{j}", label=f"{sampler}" if i == 0 else None)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"τ of the {primary(model)} (steps)")
        names = ", ".join(f"{w}×{length}" if model == "ising2d" else f"L = {length}" for w, length in sizes)
        ax.set_title(f"{model}: integrated autocorrelation time ({names}: o-, s--)", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    save(fig, path, plt)


def collect(outdir):
    h5py, np, plt = plot_modules()
    runs = read_runs(PROG, outdir, lambda path: read_run(path, h5py), "a readable spin.mode=monte_carlo run",
                     SUMMARY)
    runs.sort(key=lambda run: (run["base"]["model"] != "ising2d", run["base"]["width"], run["base"]["L"],
                               run["base"]["beta"], run["base"]["c"]))
    rows = [r for run in runs for r in run["rows"]]
    learning = [r for run in runs for r in run["learning"]]
    write_csv(os.path.join(outdir, "mc-study.csv"), COLUMNS, rows)
    write_csv(os.path.join(outdir, "mc-learning.csv"), LEARNING_COLUMNS, learning)
    write_h5(os.path.join(outdir, "mc-study.h5"), rows, learning, h5py, np)
    table = markdown(runs)
    with replacing(os.path.join(outdir, "mc-study.md")) as tmp, open(tmp, "w") as f:
        f.write(table)
    plot_ising2d(os.path.join(outdir, "mc_ising2d.png"), rows, plt, np)
    plot_fredkin(os.path.join(outdir, "mc_fredkin.png"), runs, plt)
    plot_acceptance(os.path.join(outdir, "mc_acceptance.png"), rows, plt)
    plot_tau(os.path.join(outdir, "mc_tau.png"), rows, plt)
    print(f"{PROG}: {len(runs)} runs from {outdir}")
    print(table, end="")
    print("\nlearning (last round): model | bond | direct acceptance | NLL after | exact NLL | gap")
    last = OrderedDict()
    for r in learning:
        last[r["file"]] = r
    for r in last.values():
        print(f"  {case(r)} | {r['bond']} | {r['acceptance']:.3f} | {r['nll_after']:.4f} | {r['nll_exact']:.4f} "
              f"| {r['gap']:.4f}")
    print(f"wrote mc-study.csv, mc-learning.csv, mc-study.h5, mc-study.md, mc_ising2d.png, mc_fredkin.png, "
          f"mc_acceptance.png, mc_tau.png in {outdir}")
    return 0


def main(argv):
    return run_main(PROG, __doc__, argv, commands, collect)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
