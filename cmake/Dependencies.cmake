# Finds every library twinflow links against; all come from Debian 12 packages
# (cmake/install-deps.sh installs them).
find_package(MPI REQUIRED COMPONENTS C CXX)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PETSC REQUIRED IMPORTED_TARGET PETSc)

set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "twinflow needs a parallel (MPI) HDF5 build: install libhdf5-openmpi-dev")
endif()

find_package(Boost 1.74 REQUIRED COMPONENTS program_options)

find_path(RANDOM123_INCLUDE_DIR Random123/philox.h REQUIRED)

pkg_check_modules(FFTW3 REQUIRED IMPORTED_TARGET fftw3)
find_library(FFTW3_MPI_LIBRARY fftw3_mpi REQUIRED)

if(TWINFLOW_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(TWINFLOW_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()

find_package(Eigen3 3.3 REQUIRED NO_MODULE)

# Eigenvalues of the free family's random matrices (dsyevd, zheevd).
pkg_check_modules(LAPACKE REQUIRED IMPORTED_TARGET lapacke)

# Exponentially scaled Bessel functions for the Kac law (docs/kac.md (C3)).
pkg_check_modules(GSL REQUIRED IMPORTED_TARGET gsl)

# Neural velocity fields, trained by flow matching (nn/): libtorch's tensors,
# autograd and Adam (Debian libtorch-dev).
find_package(Torch REQUIRED)
