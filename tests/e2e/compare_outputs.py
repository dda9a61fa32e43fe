#!/usr/bin/python3
"""Compares two twinflow outputs dataset by dataset: the files of an older and
a newer build for the same command line.

Usage: compare_outputs.py OLD.h5 NEW.h5 [--moved OLD_PATH[I]=NEW_PATH[K] ...]
                          [--rtol X] [--ignore-attr NAME ...]

Every dataset of OLD must be in NEW under the same path, or under the path
given by --moved, with the same shape and the same values: bit for bit, or
within --rtol relative to the largest entry. A move maps a whole dataset
(OLD_PATH=NEW_PATH) or one entry of a vector to one entry of another
(OLD_PATH[1]=NEW_PATH[-1]); a dataset may be moved in pieces.
Attributes of OLD objects must be equal too, except provenance (created_utc,
run_id, git_sha, twinflow_version, mpi_library, nranks, slurm ids) and those
named by --ignore-attr. Datasets only in NEW are listed as added.

Exit status 0 when everything of OLD is in NEW unchanged, 1 otherwise.
"""
import argparse
import re
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:
    sys.exit(f"compare_outputs: needs h5py and numpy ({e}); run with /usr/bin/python3")

PROVENANCE = {"created_utc", "run_id", "git_sha", "twinflow_version", "mpi_library", "nranks",
              "slurm_job_id", "slurm_array_task_id"}


def datasets(f):
    found = {}
    f.visititems(lambda name, obj: found.__setitem__("/" + name, obj) if isinstance(obj, h5py.Dataset) else None)
    return found


def objects(f):
    found = {"/": f}
    f.visititems(lambda name, obj: found.__setitem__("/" + name, obj))
    return found


def equal(u, v, rtol):
    if u.shape != v.shape:
        return False
    if u.dtype.kind in "fc":
        if np.array_equal(u, v, equal_nan=True):
            return True
        if rtol > 0:
            scale = max(float(np.nanmax(np.abs(u))) if u.size else 0.0, 1e-300)
            return bool(np.nanmax(np.abs(u - v)) <= rtol * scale)
        return False
    return np.array_equal(u, v)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--moved", action="append", default=[], help="OLD_PATH=NEW_PATH or OLD_PATH=NEW_PATH[-1]")
    p.add_argument("--rtol", type=float, default=0.0)
    p.add_argument("--ignore-attr", action="append", default=[])
    a = p.parse_args()
    def split_index(text):
        match = re.fullmatch(r"(.*)\[(-?\d+)\]", text)
        return (match.group(1), int(match.group(2))) if match else (text, None)

    moved = {}  # old path -> [(old index, new path, new index)]
    for m in a.moved:
        old, new = m.split("=", 1)
        (old, old_index), (new, new_index) = split_index(old), split_index(new)
        moved.setdefault(old, []).append((old_index, new, new_index))
    ignored = PROVENANCE | set(a.ignore_attr)
    problems, same, relocated = [], 0, 0
    with h5py.File(a.old, "r") as fo, h5py.File(a.new, "r") as fn:
        old_sets, new_sets = datasets(fo), datasets(fn)
        for path, d in sorted(old_sets.items()):
            for old_index, target, index in moved.get(path, [(None, path, None)]):
                where = target + (f"[{index}]" if index is not None else "")
                if target not in new_sets:
                    problems.append(f"{path}: missing in the new file" + (f" (expected at {target})" if target != path else ""))
                    continue
                u, v = d[()], new_sets[target][()]
                if old_index is not None:
                    u = u[old_index]
                if index is not None:
                    v = v[index]
                if not equal(np.asarray(u), np.asarray(v), a.rtol):
                    problems.append(f"{path}" + (f"[{old_index}]" if old_index is not None else "") +
                                    f": values differ from {where}")
                elif target != path:
                    relocated += 1
                else:
                    same += 1
        old_objs, new_objs = objects(fo), objects(fn)
        for path, obj in old_objs.items():
            target = moved.get(path, [(None, path, None)])[0][1]
            if target not in new_objs:
                continue
            for key in obj.attrs:
                if key in ignored:
                    continue
                if key not in new_objs[target].attrs:
                    problems.append(f"{path}@{key}: attribute missing in the new file")
                elif not np.array_equal(np.asarray(obj.attrs[key]), np.asarray(new_objs[target].attrs[key])):
                    problems.append(f"{path}@{key}: attribute differs")
        added = sorted(set(new_sets) - set(old_sets) - {t for entries in moved.values() for _, t, _ in entries})
    print(f"compare_outputs: {same} datasets equal, {relocated} moved and equal, {len(added)} added")
    for path in added:
        print(f"  added: {path}")
    for line in problems:
        print(f"  DIFFERS: {line}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
