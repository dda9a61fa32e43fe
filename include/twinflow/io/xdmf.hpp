#pragma once
// XDMF sidecars that let ParaView (and VisIt) open a committed output file's
// grid fields as time series, written by rank 0 after the file is complete.
//
// Every time series on the grid is listed: a dataset [n, c0, …, c_{d−1}] or
// [n, c0, …, c_{d−1}, d] (one scalar array per component) made by
// OutputFile::create_series, whose attribute axis names the dataset of its n
// times. One sidecar per clock: <stem>.xmf for /time, <stem>.<group>.xmf for
// /<group>/… (<stem>.reverse.xmf for /reverse/time, the clock s of the
// reverse runs; mfg's <stem>.controlled.xmf). <stem> is the output path
// without its .h5.
//
// Each sidecar comes in the two dialects ParaView's readers understand:
// <stem>.xmf in XDMF 3, which ParaView's default readers (Xdmf3ReaderS,
// Xdmf3ReaderT) open and which selects a snapshot by an HDF5 hyperslab in the
// heavy-data reference; <stem>.xmf2 in XDMF 2 with HyperSlab items, which the
// "XDMF Reader" (and VisIt) opens. Those readers do not read each other's
// hyperslab syntax.
//
// The mesh is a 3-D rectilinear grid of cell faces (/grid/x<k>_faces) with
// the values as cell data, so the bounds are the box's. XDMF orders
// dimensions slowest first and calls the fastest X: ParaView's X, Y, Z are
// the file's last axis, …, x0 (2-D: X = x1, Y = x0, as numpy's imshow of
// field[j] shows it); missing axes are one cell of zero width at 0. The
// sidecar says so in an Information element "axes".
#include <mpi.h>

#include <string>

#include "twinflow/grid/grid.hpp"

namespace twinflow {

/// Writes the sidecars of the committed file `h5_path` on the grid `box`
/// (nothing when the file has no time series on it). Collective: rank 0
/// reads the file and writes, the others wait; throws RuntimeFailure on
/// every rank when it cannot.
void write_xdmf(MPI_Comm comm, const std::string& h5_path, const Box& box);

/// Removes the sidecars beside `h5_path` (an earlier run's of that name,
/// whatever its clocks). Collective, like write_xdmf.
void remove_xdmf_sidecars(MPI_Comm comm, const std::string& h5_path);

}  // namespace twinflow
