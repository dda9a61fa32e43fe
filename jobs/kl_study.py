#!/usr/bin/python3
"""The KL convergence study: its run table and its collector.

  kl_study.py check TABLE [--key=value ...]             validate; print every row's arguments
  kl_study.py count TABLE [--key=value ...]             validate; print the number of rows
  kl_study.py args TABLE ROW OUTDIR [--key=value ...]   validate; print the `twinflow run` arguments
                                                        of row ROW (0-based), one a line
  kl_study.py collect OUTDIR                            tables, slopes, acceptance lines and plots
                                                        of the runs in OUTDIR

The table format is described in jobs/kl-study.table, the study in
README.md ("The KL convergence study"). `check`, `count` and `args` validate the whole table (and
the --key=value arguments that apply to every row) before they print
anything: a bad input is one line `kl-study: WHERE: COLUMN 'VALUE' PROBLEM;
accepted: ...` on stderr and exit status 2. They need only the standard
library; `collect` also needs h5py, numpy and matplotlib.
"""
import configparser
import math
import os
import re
import shlex
import sys
from collections import OrderedDict, namedtuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from study_common import (OPTION, InputError, Usage, plot_modules, read_runs, rejected,  # noqa: E402,F401
                          replacing, run_main, save, task_name, text, write_csv)

PROG = "kl-study"

# Schemes whose sampler law twinflow computes, per family.
FAMILIES = OrderedDict([("ou", ("rel-ei", "abs-ei", "em", "pf-ode")), ("kinetic", ("rel-ei", "abs-ei", "em", "pf-ode"))])
COLUMNS = ("family", "scheme", "steps", "time_end", "target")
ROW_FORMAT = "one run per line: " + " ".join(COLUMNS) + " [--key=value ...]"
MAX_STEPS = 10**9
STEPS_ACCEPTED = f"an integer in [1, {MAX_STEPS:.0e}]"
TARGET_ACCEPTED = ("'weight:mean:variance' components joined by ';' (weights > 0 summing to 1, "
                   "variances >= 0; mean and variance comma lists), or file:PATH")
# ----------------------------------------------------------------------------- the table

# Keys the study sets itself, with the reason, so that neither a row override
# nor a command-line argument can contradict a column or the study.
RESERVED = OrderedDict([("family", "the column 'family'"), ("time.end", "the column 'time_end'"),
                        ("output", "the study (task-NNN.h5 in the output directory)"),
                        ("sampler_law", "the study (it is what the study measures)")])
RESERVED.update((f"{family}.{column}", f"the column '{column}'")
                for family in FAMILIES for column in ("scheme", "steps", "target"))
OVERRIDE_ACCEPTED = "--key=value, for any key but " + ", ".join(RESERVED)


def parse_option(where, column, token):
    """'--key=value' -> (key, value), refusing malformed and reserved keys."""
    m = OPTION.match(token)
    if not m:
        raise rejected(where, column, token, "is not of the form --key=value", OVERRIDE_ACCEPTED)
    key, value = m.group(1), m.group(2)
    if key in RESERVED:
        raise rejected(where, column, token, f"sets '{key}', which is given by {RESERVED[key]}",
                       OVERRIDE_ACCEPTED)
    return key, value


def check_target(where, spec):
    """The shape of a data-law spec (twinflow checks the dimensions)."""
    def bad(problem):
        return rejected(where, "target", spec, problem, TARGET_ACCEPTED)

    if spec.startswith("file:"):
        if not os.path.isfile(spec[5:]):
            raise bad("names no readable file")
        return
    total = 0.0
    for part in spec.split(";"):
        fields = part.split(":")
        if len(fields) != 3:
            raise bad(f"has a component '{part}' without exactly 3 fields")
        try:
            weight = float(fields[0])
            means = [float(v) for v in fields[1].split(",")]
            variances = [float(v) for v in fields[2].split(",")]
        except ValueError:
            raise bad(f"has a component '{part}' with a field that is not a number") from None
        if not all(math.isfinite(v) for v in [weight] + means + variances):
            raise bad(f"has a component '{part}' with a non-finite number")
        if weight <= 0:
            raise bad(f"has a component '{part}' with a weight <= 0")
        if min(variances) < 0:
            raise bad(f"has a component '{part}' with a negative variance")
        total += weight
    if abs(total - 1) > 1e-9:  # twinflow's tolerance
        raise bad(f"has weights summing to {total:g}")


Row = namedtuple("Row", COLUMNS + ("overrides",))


def parse_row(where, tokens):
    """The tokens of one table line -> Row, or InputError naming the column."""
    if len(tokens) < len(COLUMNS):
        missing = COLUMNS[len(tokens)]
        raise InputError(f"{where}: {missing} is missing: the row has {len(tokens)} of the "
                         f"{len(COLUMNS)} columns; accepted: {ROW_FORMAT}")
    family, scheme, steps, time_end, target = tokens[:len(COLUMNS)]
    if family not in FAMILIES:
        raise rejected(where, "family", family, "is not a family of the study", ", ".join(FAMILIES))
    if scheme not in FAMILIES[family]:
        raise rejected(where, "scheme", scheme, f"is not a scheme of family '{family}'",
                       ", ".join(FAMILIES[family]))
    if not re.fullmatch(r"[+-]?[0-9]+", steps):
        raise rejected(where, "steps", steps, "is not an integer", STEPS_ACCEPTED)
    if not 1 <= int(steps) <= MAX_STEPS:
        raise rejected(where, "steps", steps, "is out of range", STEPS_ACCEPTED)
    try:
        t = float(time_end)
    except ValueError:
        raise rejected(where, "time_end", time_end, "is not a number", "a real number > 0") from None
    if not (math.isfinite(t) and t > 0):
        raise rejected(where, "time_end", time_end, "is out of range", "a real number > 0")
    check_target(where, target)
    overrides = OrderedDict(parse_option(where, "override", tok) for tok in tokens[len(COLUMNS):])
    return Row(family, scheme, int(steps), time_end, target, overrides)


def read_table(path):
    """Every run of the table; InputError on the first bad line."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the table ({getattr(e, 'strerror', None) or e}); accepted: a "
                         f"readable text file, {ROW_FORMAT}") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        where = f"{path}:{number}"
        try:
            tokens = shlex.split(line, comments=True)  # quotes allowed, '#' starts a comment
        except ValueError as e:
            raise InputError(f"{where}: row '{line.strip()}' cannot be split ({e}); accepted: {ROW_FORMAT}") \
                from None
        if tokens:
            rows.append(parse_row(where, tokens))
    if not rows:
        raise InputError(f"{path}: no runs: every line is blank or a comment; accepted: {ROW_FORMAT}")
    return rows


def common_options(extra):
    """The options of every row: the study's defaults, then the command line."""
    particles = os.environ.get("TWINFLOW_PARTICLES", "200000")
    if not re.fullmatch(r"[0-9]+", particles) or int(particles) < 1:
        raise rejected("environment", "TWINFLOW_PARTICLES", particles, "is not a positive integer",
                       "an integer >= 1")
    # [-8, 8] holds all but ~1e-15 of γ: on the default [-6, 6] the ~2e-9 of
    # γ's mass outside the box sets a floor of a few 1e-9 under every KL.
    options = OrderedDict([("sampler_law", "true"), ("pde.enabled", "false"), ("time.snapshots", "2"),
                           ("quiet", "true"), ("overwrite", "true"), ("particles.count", particles),
                           ("grid.lower", "-8"), ("grid.upper", "8")])
    options.update(parse_option("command line", "argument", tok) for tok in extra)
    return options


def run_args(row, index, options, outdir):
    """The `twinflow run` arguments of one row; each key appears once (twinflow
    rejects a key given twice), row overrides win over the common options."""
    merged = OrderedDict(options)
    merged.update(row.overrides)
    fam = row.family
    args = [f"--family={fam}", f"--{fam}.scheme={row.scheme}", f"--{fam}.steps={row.steps}",
            f"--time.end={row.time_end}", f"--{fam}.target={row.target}"]
    args += [f"--{k}={v}" for k, v in merged.items()]
    args.append(f"--output={os.path.join(outdir, task_name(index) + '.h5')}")
    return args


def table_command(command, argv):
    if len(argv) < 1 or (command == "args" and len(argv) < 3):
        raise Usage()
    table = argv[0]
    rows = read_table(table)
    if command == "args":
        row, outdir, extra = argv[1], argv[2], argv[3:]
        if not re.fullmatch(r"[0-9]+", row) or int(row) >= len(rows):
            raise rejected(table, "row", row, "does not exist", f"0..{len(rows) - 1}")
        print("\n".join(run_args(rows[int(row)], int(row), common_options(extra), outdir)))
        return 0
    options = common_options(argv[1:])
    if command == "count":
        print(len(rows))
        return 0
    for index, row in enumerate(rows):
        print(f"{task_name(index)}  twinflow run " + shlex.join(run_args(row, index, options, "OUTDIR")))
    print(f"{PROG}: {table}: {len(rows)} runs, valid")
    return 0


# ----------------------------------------------------------------------------- the collector

# One row per run, in this order; NaN where a run has no such value.
RUN_COLUMNS = ("file", "family", "scheme", "target", "horizon", "steps", "h", "kl", "bound", "l1",
               "kl_affine", "binned_kl", "particle_binned_kl", "particle_binned_kl_se", "kl_x",
               "grid_dim", "grid_cells", "fisher_information", "confidence_z")
TEXT_COLUMNS = ("file", "family", "scheme", "target", "grid_cells")
OPTIONAL_DATASETS = ("bound", "l1", "kl_affine", "binned_kl", "particle_binned_kl", "particle_binned_kl_se",
                     "kl_x")
# A slope is fitted per group: runs that differ only in the step size.
GROUP = ("family", "scheme", "target", "horizon", "grid_dim", "grid_cells")
PANEL = ("family", "target", "horizon", "grid_dim", "grid_cells")
SLOPE_COLUMNS = GROUP + ("step_sizes", "h_min", "h_max", "slope", "log_c", "max_kl_over_bound")
SLOPE_RANGE = (0.8, 1.2)
SLOPE_MIN_STEP_SIZES = 4
AFFINE_TOLERANCE = 1e-6
SUMMARY = "kl-study.csv", "kl-study.h5", "slopes.csv", "kl_vs_h.png", "particle_vs_exact.png"


def grid_of(config):
    """(dim, cells) from the resolved INI text in the root attribute `config`
    (its first keys come before any section)."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string("[general]\n" + config)
        return int(parser.get("grid", "dim")), parser.get("grid", "cells")
    except (configparser.Error, ValueError):
        return math.nan, ""


def read_run(path, h5py):
    """One run as a dict of RUN_COLUMNS, or a string saying why it is skipped."""
    try:
        with h5py.File(path, "r") as f:
            law = f.get("sampler_law")
            if not isinstance(law, h5py.Group):
                return "no /sampler_law group (was it run with --sampler_law=true?)"
            missing = [a for a in ("family", "scheme", "target", "steps", "h", "horizon") if a not in law.attrs]
            missing += [d for d in ("kl",) if d not in law]
            if missing:
                return "/sampler_law lacks " + ", ".join(missing)
            run = {"file": os.path.basename(path)}
            for a in ("family", "scheme", "target"):
                run[a] = text(law.attrs[a])
            run["steps"] = int(law.attrs["steps"])
            for a in ("h", "horizon", "fisher_information", "confidence_z"):
                run[a] = float(law.attrs[a]) if a in law.attrs else math.nan
            run["kl"] = float(law["kl"][0])
            for d in OPTIONAL_DATASETS:
                run[d] = float(law[d][0]) if d in law else math.nan
            run["grid_dim"], run["grid_cells"] = grid_of(text(f.attrs.get("config", "")))
            return run
    except (OSError, KeyError, ValueError, TypeError, IndexError) as e:
        return f"unreadable ({e})"


def fit_slopes(groups, np):
    """Least-squares line of log kl against log h for every group with at least
    two step sizes (runs with kl <= 0 have no logarithm and are left out)."""
    slopes = []
    for key, runs in groups.items():
        ok = [r for r in runs if r["kl"] > 0 and r["h"] > 0]
        hs = sorted({r["h"] for r in ok})
        if len(hs) < 2:
            continue
        slope, log_c = np.polyfit(np.log([r["h"] for r in ok]), np.log([r["kl"] for r in ok]), 1)
        ratios = [r["kl"] / r["bound"] for r in runs if r["bound"] > 0]
        slopes.append(dict(zip(GROUP, key), step_sizes=len(hs), h_min=hs[0], h_max=hs[-1], slope=float(slope),
                           log_c=float(log_c), max_kl_over_bound=max(ratios) if ratios else math.nan))
    return slopes


def group_order(key):
    """Sort key of a group: text as text, numbers as numbers (NaN last)."""
    return tuple((0, v) if isinstance(v, str) else (1, v if math.isfinite(v) else math.inf) for v in key)


def describe(key):
    d = dict(zip(GROUP, key))
    return (f"{d['family']} {d['scheme']} target={d['target']} T={d['horizon']:g} "
            f"grid={d['grid_dim']}-D {d['grid_cells']} cells")


def acceptance(groups, slopes, runs):
    """The acceptance lines: (passed, check, subject, detail)."""
    lines = []
    by_key = {tuple(s[c] for c in GROUP): s for s in slopes}
    for key, group in groups.items():
        s = by_key.get(key)
        if key[1] != "rel-ei" or s is None or s["step_sizes"] < SLOPE_MIN_STEP_SIZES:
            continue
        lo, hi = SLOPE_RANGE
        ok = lo <= s["slope"] <= hi
        lines.append((ok, "slope", describe(key),
                      f"slope {s['slope']:.4f} {'in' if ok else 'outside'} [{lo}, {hi}] "
                      f"({s['step_sizes']} step sizes, h {s['h_min']:g}..{s['h_max']:g})"))
        over = [r for r in group if not r["kl"] < r["bound"]]  # NaN bound fails too
        detail = ("every kl < bound" if not over else "kl >= bound at " + ", ".join(
            f"h={r['h']:g} (kl {r['kl']:.4g}, bound {r['bound']:.4g})" for r in over))
        lines.append((not over, "bound", describe(key), f"{detail}; max kl/bound {s['max_kl_over_bound']:.3g}"))
    for r in runs:
        if math.isfinite(r["particle_binned_kl"]):
            diff = abs(r["particle_binned_kl"] - r["binned_kl"])
            z, se = r["confidence_z"], r["particle_binned_kl_se"]
            ok = diff <= z * se
            lines.append((ok, "particle", r["file"], f"|particle_binned_kl - binned_kl| = {diff:.3g} "
                          f"{'<=' if ok else '>'} z*se = {z:g}*{se:.3g} = {z * se:.3g}"))
    for r in runs:
        if math.isfinite(r["kl_affine"]):
            diff = abs(r["kl"] - r["kl_affine"])
            rel = diff / abs(r["kl_affine"]) if r["kl_affine"] else math.inf
            ok = diff <= AFFINE_TOLERANCE * abs(r["kl_affine"])
            lines.append((ok, "affine", r["file"],
                          f"|kl - kl_affine|/kl_affine = {rel:.3g} {'<=' if ok else '>'} {AFFINE_TOLERANCE:g} "
                          f"(kl {r['kl']:.10g}, kl_affine {r['kl_affine']:.10g})"))
    return lines


def print_table(groups, slopes):
    by_key = {tuple(s[c] for c in GROUP): s for s in slopes}
    head = ("N", "h", "kl", "bound", "kl/bound", "l1", "kl_affine", "binned_kl", "particle", "se", "kl_x")
    for key, group in groups.items():
        s = by_key.get(key)
        print(f"\n{describe(key)}" + (f"   slope {s['slope']:.4f}" if s else ""))
        print("  " + "".join(f"{c:>11}" for c in head))
        for r in group:
            cells = [r["steps"], r["h"], r["kl"], r["bound"], r["kl"] / r["bound"] if r["bound"] else math.nan,
                     r["l1"], r["kl_affine"], r["binned_kl"], r["particle_binned_kl"], r["particle_binned_kl_se"],
                     r["kl_x"]]
            print("  " + "".join(f"{c:>11}" if isinstance(c, int) else
                                 f"{c:>11.4g}" if math.isfinite(c) else f"{'-':>11}" for c in cells))


def write_h5(path, runs, slopes, lines, h5py, np):
    strings = h5py.string_dtype()
    with replacing(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["description"] = "KL convergence study: one entry per run (/runs), slope of log kl vs log h " \
                                     "per group (/slopes), acceptance lines (/acceptance)"
            for name, columns, table in (("runs", RUN_COLUMNS, runs), ("slopes", SLOPE_COLUMNS, slopes)):
                g = f.create_group(name)
                for c in columns:
                    values = [r[c] for r in table]
                    if c in TEXT_COLUMNS:
                        g.create_dataset(c, data=np.array([str(v) for v in values], dtype=object), dtype=strings)
                    else:
                        g.create_dataset(c, data=np.array(values, dtype=np.float64))
            g = f.create_group("acceptance")
            g.create_dataset("passed", data=np.array([p for p, *_ in lines], dtype=bool))
            for i, name in enumerate(("check", "subject", "detail"), start=1):
                g.create_dataset(name, data=np.array([ln[i] for ln in lines], dtype=object), dtype=strings)


def plot_kl_vs_h(path, groups, slopes, plt):
    panels = OrderedDict()
    for key, group in groups.items():
        d = dict(zip(GROUP, key))
        panels.setdefault(tuple(d[c] for c in PANEL), []).append((d["scheme"], group))
    schemes = sorted({key[1] for key in groups})
    colour = {s: plt.get_cmap("tab10")(i % 10) for i, s in enumerate(schemes)}
    slope_of = {tuple(s[c] for c in GROUP): s["slope"] for s in slopes}
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.5 * ncols, 4.2 * nrows), squeeze=False)
    for ax, (panel, lines) in zip(axes.flat, panels.items()):
        d = dict(zip(PANEL, panel))
        for scheme, group in lines:
            key = tuple({**d, "scheme": scheme}[c] for c in GROUP)
            pts = [r for r in group if r["kl"] > 0]
            label = scheme + (f" (slope {slope_of[key]:.2f})" if key in slope_of else "")
            ax.plot([r["h"] for r in pts], [r["kl"] for r in pts], "o-", color=colour[scheme], label=label)
            bound = [r for r in group if r["bound"] > 0]
            if bound:
                ax.plot([r["h"] for r in bound], [r["bound"] for r in bound], "--", color=colour[scheme],
                        label=f"{scheme} bound")
        ax.set_xscale("log")
        ax.set_yscale("log")
        # Ticks at the step sizes of the panel, written as plain numbers.
        hs = sorted({r["h"] for _, group in lines for r in group})
        ax.set_xticks(hs, [f"{h:g}" for h in hs])
        ax.set_xticks([], minor=True)
        ax.set_xlabel("step size h")
        ax.set_ylabel("KL(data | law of the sampler)")
        ax.set_title(f"{d['family']}, T={d['horizon']:g}, {d['grid_dim']}-D {d['grid_cells']} cells\n"
                     f"target {d['target']}", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    save(fig, path, plt)


def plot_particle_vs_exact(path, runs, plt):
    pts = [r for r in runs if math.isfinite(r["particle_binned_kl"]) and math.isfinite(r["binned_kl"])]
    fig, ax = plt.subplots(figsize=(6, 5.5))
    if not pts:
        ax.text(0.5, 0.5, "no particle estimates in these runs", ha="center", va="center", transform=ax.transAxes)
    labels = sorted({(r["family"], r["scheme"]) for r in pts})
    for i, (family, scheme) in enumerate(labels):
        sel = [r for r in pts if (r["family"], r["scheme"]) == (family, scheme)]
        ax.errorbar([r["binned_kl"] for r in sel], [r["particle_binned_kl"] for r in sel],
                    yerr=[r["confidence_z"] * r["particle_binned_kl_se"] for r in sel], fmt="o", capsize=3,
                    color=plt.get_cmap("tab10")(i % 10), label=f"{family} {scheme}")
    if pts:
        values = [r["binned_kl"] for r in pts] + [r["particle_binned_kl"] for r in pts]
        lo, hi = min(values), max(values)
        ax.plot([lo, hi], [lo, hi], "k:", label="particle = exact")
        if lo > 0:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    ax.set_xlabel("binned KL, grid-exact")
    ax.set_ylabel("binned KL, particle estimate (± z·se)")
    ax.set_title("particle estimate vs grid-exact binned KL")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    save(fig, path, plt)


def collect(outdir):
    h5py, np, plt = plot_modules()
    runs = read_runs(PROG, outdir, lambda path: read_run(path, h5py), "with a readable /sampler_law group", SUMMARY)

    runs.sort(key=lambda r: (group_order(tuple(r[c] for c in GROUP)), -r["h"], r["file"]))
    groups = OrderedDict()
    for r in runs:
        groups.setdefault(tuple(r[c] for c in GROUP), []).append(r)
    slopes = fit_slopes(groups, np)
    lines = acceptance(groups, slopes, runs)

    write_csv(os.path.join(outdir, "kl-study.csv"), RUN_COLUMNS, runs)
    write_csv(os.path.join(outdir, "slopes.csv"), SLOPE_COLUMNS, slopes)
    write_h5(os.path.join(outdir, "kl-study.h5"), runs, slopes, lines, h5py, np)
    plot_kl_vs_h(os.path.join(outdir, "kl_vs_h.png"), groups, slopes, plt)
    plot_particle_vs_exact(os.path.join(outdir, "particle_vs_exact.png"), runs, plt)

    print(f"{PROG}: {len(runs)} runs from {outdir}, {len(slopes)} fitted slopes")
    print_table(groups, slopes)
    print("\nacceptance:")
    for passed, check, subject, detail in lines:
        print(f"{'PASS' if passed else 'FAIL'}  {check:<8} {subject}: {detail}")
    failed = sum(1 for p, *_ in lines if not p)
    print(f"acceptance: {len(lines) - failed} PASS, {failed} FAIL")
    print(f"wrote {', '.join(SUMMARY)} in {outdir}")
    return 0


def main(argv):
    return run_main(PROG, __doc__, argv, table_command, collect)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
