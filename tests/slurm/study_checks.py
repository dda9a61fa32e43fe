"""Checks of a study's output directory shared by the Slurm study tests: the
task files with their array task ids and resolved settings, the collector's
files and its PNGs. Each check appends its problems to a list."""
import configparser
import csv
import os
import sys

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def check_tasks(h5py, outdir, wanted, errors):
    """wanted[i]: {(section, key): value} that task-<i>.h5 must hold in its
    resolved configuration; its slurm_array_task_id must be i."""
    for i, settings in enumerate(wanted):
        path = os.path.join(outdir, f"task-{i:03d}.h5")
        if not os.path.isfile(path):
            errors.append(f"{path} missing")
            continue
        with h5py.File(path, "r") as f:
            task = text(f.attrs.get("slurm_array_task_id", "")).strip()
            if task != str(i):
                errors.append(f"{path}: slurm_array_task_id = {task!r}, expected {i}")
            config = configparser.ConfigParser(interpolation=None)
            config.read_string(text(f.attrs.get("config", "")))
            for (section, key), value in settings.items():
                got = config.get(section, key, fallback=None)
                if got != value:
                    errors.append(f"{path}: [{section}] {key} = {got}, expected {value}")


def check_files(outdir, names, errors):
    """Every name exists in outdir; those ending in .png are PNG files."""
    for name in names:
        path = os.path.join(outdir, name)
        if not os.path.isfile(path):
            errors.append(f"{name} missing")
        elif name.endswith(".png"):
            with open(path, "rb") as f:
                if f.read(8) != PNG_SIGNATURE:
                    errors.append(f"{name} is not a PNG file")


def read_csv(outdir, name):
    with open(os.path.join(outdir, name), newline="") as f:
        return list(csv.DictReader(f))


def finish(outdir, errors):
    """Prints the problems; the exit status."""
    for e in errors:
        print(f"{outdir}: {e}", file=sys.stderr)
    return 1 if errors else 0
