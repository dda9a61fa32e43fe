#!/usr/bin/env bash
# Whole-run measurement of one checkpoint write, against the disk's own write
# bandwidth side by side.
#
#   benchmarks/checkpoint_bandwidth.sh TWINFLOW_BINARY [NRANKS] [PARTICLES]
#
# Runs the default ou twin with PARTICLES (default 4e6) particles on NRANKS
# (default 2) ranks and checkpoint.every=steps:250, which falls in the reverse
# run (200 PDE steps + 11 forward outputs come first): exactly one checkpoint,
# of PARTICLES × 8 bytes of positions plus metadata. Its time is the
# `checkpoint` row of the timing table (write under .partial, rename, CRC-32
# read-back on rank 0, manifest). Reference run: dd writing the same number of
# bytes to the same directory with conv=fsync.
set -euo pipefail
binary=$(realpath "$1") nranks=${2:-2} particles=${3:-4000000}
dir=$(mktemp -d "${TMPDIR:-/tmp}/twinflow-ckpt-bench.XXXXXX")
trap 'rm -rf -- "$dir"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
seconds=$(cd "$dir" && mpiexec --oversubscribe -n "$nranks" "$binary" run --output=bench.h5 --quiet \
  --particles.count="$particles" --ou.steps=100 --checkpoint.every=steps:250 | awk '$1 == "checkpoint" {print $4}')
bytes=$((particles * 8))
dd_line=$(dd if=/dev/zero of="$dir/dd.bin" bs=1M count=$((bytes / 1048576)) conv=fsync 2>&1 | tail -n 1)
dd_seconds=$(echo "$dd_line" | awk '{for (i = 1; i <= NF; ++i) if ($i == "s,") print $(i - 1)}')
awk -v s="$seconds" -v b="$bytes" -v d="$dd_seconds" 'BEGIN {
  printf "checkpoint of %.1f MB: %.3f s = %.0f MB/s (max over ranks)\n", b / 1e6, s, b / 1e6 / s
  printf "reference, dd with fsync of the same bytes: %.3f s = %.0f MB/s\n", d, b / 1e6 / d
  printf "ratio checkpoint / dd bandwidth: %.2f\n", (b / s) / (b / d)
}'
