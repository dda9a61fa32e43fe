#!/usr/bin/env bash
# Installs the Debian 12 packages twinflow needs to build, test, benchmark and
# post-process. Safe to run again: apt-get skips what is already installed.
set -euo pipefail
packages=(
  g++ cmake pkg-config git
  petsc-dev libopenmpi-dev openmpi-bin libpmix-dev
  libfftw3-dev libfftw3-mpi-dev libhdf5-openmpi-dev hdf5-tools
  libboost-program-options-dev libboost-dev
  libgtest-dev libbenchmark-dev librandom123-dev libeigen3-dev libgsl-dev liblapacke-dev libtorch-dev
  python3 python3-h5py python3-numpy python3-matplotlib python3-torch
  slurm-wlm munge
  paraview python3-paraview xvfb xauth environment-modules
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
