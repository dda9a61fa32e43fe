# Initial cache for a cluster build (cmake -C cmake/cluster.cmake -S . -B build):
#
#   module load <compiler> <mpi> petsc hdf5      # the site's module names
#   export PKG_CONFIG_PATH=$PETSC_DIR/lib/pkgconfig:$PKG_CONFIG_PATH
#   cmake -C cmake/cluster.cmake -S . -B build -DCMAKE_INSTALL_PREFIX=$HOME/sw/twinflow
#   cmake --build build -j 8 && cmake --install build
#   module use $HOME/sw/twinflow/share/modulefiles && module load twinflow
#
# Any entry may be overridden on the command line (-DTWINFLOW_SIMD=native).

# The site's MPI compiler wrappers: the MPI that srun launches.
set(CMAKE_C_COMPILER mpicc CACHE FILEPATH "C compiler (the site's MPI wrapper)")
set(CMAKE_CXX_COMPILER mpicxx CACHE FILEPATH "C++ compiler (the site's MPI wrapper)")
set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type")
# A login node's vector unit is often not the compute nodes': a portable
# binary runs on any x86-64. Build with native inside a job on a compute
# node for the fastest particle kernels.
set(TWINFLOW_SIMD portable CACHE STRING "native (host vector unit) or portable")
# The tests need a local mpiexec and the benchmarks Google Benchmark; a
# cluster install needs neither.
set(TWINFLOW_BUILD_TESTS OFF CACHE BOOL "Build the GoogleTest suite")
set(TWINFLOW_BUILD_BENCHMARKS OFF CACHE BOOL "Build the Google Benchmark kernels")
