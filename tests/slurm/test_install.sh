#!/usr/bin/env bash
# End-to-end test of the install: `cmake --install BUILD_DIR --prefix P` into
# a scratch prefix, then jobs/twin.sbatch submitted from P to a throwaway
# single-node Slurm (jobs/local-slurm.sh) from a directory that is no
# checkout, with only P/bin on the PATH for twinflow (TWINFLOW and
# TWINFLOW_JOBS unset): the job must find its scripts and the installed
# binary, and write its output next to its log. The installed modulefile,
# loaded with Environment Modules, must put the same prefix on the PATH.
#
#   tests/slurm/test_install.sh BUILD_DIR SCRATCH_DIR
#
# Needs root, slurm-wlm, munge and a Python that imports h5py; exits 77
# (skipped) when one of them is missing.

set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 BUILD_DIR SCRATCH_DIR" >&2
  exit 2
fi
build=$(cd "$1" && pwd -P)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=SCRIPTDIR/slurm-test-lib.sh
source "$here/slurm-test-lib.sh"
slurm_test_prerequisites "$build/src/twinflow" "$2"
jobid=
slurm_test_start

prefix=$scratch/prefix
work=$scratch/work
rm -rf -- "$prefix" "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$prefix" >"$scratch/install.log" 2>&1 ||
  { cat "$scratch/install.log" >&2; fail "cmake --install failed"; }
version=$("$build/src/twinflow" --version | awk '{print $2}') || fail "twinflow --version failed"
for f in bin/twinflow bin/twinflow-plot share/twinflow/jobs/twin.sbatch share/twinflow/jobs/job-lib.sh \
  share/twinflow/jobs/kl-study.sh share/doc/twinflow/README.md share/doc/twinflow/kac.md \
  "share/modulefiles/twinflow/$version"; do
  [[ -e $prefix/$f ]] || fail "the install has no $f"
done

# The modulefile, loaded as a cluster user would (Environment Modules,
# Debian package environment-modules): twinflow from the prefix on the PATH,
# TWINFLOW_JOBS and TWINFLOW_DOCS at the installed scripts and pages.
if [[ -f /usr/share/modules/init/bash ]]; then
  module_env=$(env -i HOME="$HOME" PATH=/usr/bin:/bin bash -c '
    source /usr/share/modules/init/bash && module use "$1/share/modulefiles" && module load twinflow &&
    echo "$(command -v twinflow) $TWINFLOW_JOBS $TWINFLOW_DOCS $(twinflow --version)"' _ "$prefix" 2>&1) ||
    fail "module load twinflow failed: $module_env"
  [[ $module_env == "$prefix/bin/twinflow $prefix/share/twinflow/jobs $prefix/share/doc/twinflow twinflow $version"* ]] ||
    fail "after module load twinflow: '$module_env'"
  echo "module load twinflow: $module_env"
else
  fail "Environment Modules is missing (/usr/share/modules/init/bash; Debian package environment-modules)"
fi

unset TWINFLOW TWINFLOW_JOBS TWINFLOW_OUTDIR
export PATH=$prefix/bin:$PATH
sbatch_wait "$work" "$work" "$prefix/share/twinflow/jobs/twin.sbatch" --time.end=0.5 --particles.count=20000 --quiet
log=$work/twinflow-$jobid.log
h5=$work/twinflow-ou-$jobid.h5
if ((status != 0)) || [[ ! -f $h5 ]]; then
  cat "$scratch/sbatch.err" "$log" >&2 || true
  fail "the job from the install exited $status or wrote no $h5"
fi
"$python" -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r'); sys.exit(0 if '/pde/density' in f else 1)" "$h5" ||
  fail "$h5 has no /pde/density"
echo "PASS: installed to $prefix; job $jobid from there wrote $h5 in $((SECONDS - t0)) s"
