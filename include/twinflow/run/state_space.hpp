#pragma once
// State spaces: where the densities of a run live and where its samples are
// compared. Each writes its own axes to the output.
//
//  * CellSpace — a space of cells in a natural (rank-independent) order,
//    split over the ranks in blocks: fields on it are owned blocks, and
//    samples become histograms reduced straight into the owners' blocks
//    (a sparse exchange of (cell, count) pairs with 64-bit counts; no rank
//    ever holds a whole-space array). Three kinds:
//      GridSpace        the box in R^d, d = 1..3, as a PETSc DMDA;
//      StateVectorSpace the 2^L configurations of L binary sites, laid out
//                       like a plain distributed PETSc Vec (no DM);
//      BinSpace         bins of a scalar observable of a unit (the
//                       magnetisation of a configuration, say).
//  * SampleSpace — no cells at all, for any dimension: samples are compared
//    with a law by moments, log-likelihood and a sliced distance
//    (compare/sample_metrics.hpp).
//
// Constructors and member functions are collective over the communicator
// unless marked otherwise.
#include <mpi.h>
#include <petscvec.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "twinflow/grid/grid.hpp"
#include "twinflow/run/ensemble.hpp"

namespace twinflow {

class OutputFile;

/// The shape of one field on a cell space (C order, first axis slowest) and
/// a rank's block of it: the hyperslab of one entry of its HDF5 series.
struct Slab {
  std::vector<std::int64_t> shape, start, count;
  std::int64_t size() const;
};

class StateSpace {
 public:
  StateSpace(std::string name, MPI_Comm comm) : name_(std::move(name)), comm_(comm) {}
  virtual ~StateSpace() = default;
  StateSpace(const StateSpace&) = delete;
  StateSpace& operator=(const StateSpace&) = delete;

  /// The space's name, also the output group of its axes ("grid", "states", ...).
  const std::string& name() const { return name_; }
  MPI_Comm comm() const { return comm_; }
  /// Writes the axes under /<name>.
  virtual void write_axes(OutputFile& out) const = 0;

 private:
  std::string name_;
  MPI_Comm comm_;
};

class CellSpace : public StateSpace {
 public:
  using StateSpace::StateSpace;
  /// This rank's block.
  const Slab& slab() const { return slabs_[static_cast<std::size_t>(rank_)]; }
  std::int64_t total_cells() const;
  /// The measure of a cell (all cells have the same): its volume
  /// (GridSpace), 1 (StateVectorSpace), the bin width (BinSpace). Not collective.
  virtual double cell_measure() const = 0;
  /// True when the cells are ordered intervals of a line (W1 from CDFs
  /// means something). Not collective.
  virtual bool is_line() const = 0;
  /// Where each point (or unit) of the ensemble falls, as natural cell
  /// indices with weights in units of 1/weight_scale(); points outside the
  /// space are left out. Not collective.
  virtual void locate(const Ensemble& e, std::vector<std::int64_t>& cells, std::vector<std::int64_t>& weights) const = 0;
  virtual std::int64_t weight_scale() const { return 1; }
  /// How many located things an ensemble has in all (for the normalisation):
  /// its points, or its units.
  virtual std::int64_t located_total(const Ensemble& e) const { return e.total * e.points_per_unit; }

  /// The ensemble as a density on this rank's block: located weight /
  /// (located_total · cell_measure). Mass outside the space is missing, not
  /// renormalised away. Counts are exact integers, so the result does not
  /// depend on the rank count.
  void histogram(const Ensemble& e, std::vector<double>& owned) const;
  /// The whole field on every rank (natural C order, `components` values per
  /// cell) from every rank's block.
  void gather(const std::vector<double>& owned, int components, std::vector<double>& full) const;
  /// The rank owning natural cell c and c's position in that rank's block.
  /// Not collective.
  virtual std::pair<int, std::int64_t> owner(std::int64_t cell) const = 0;

 protected:
  /// Records this rank's block and learns every other rank's.
  void set_slab(Slab mine);
  const std::vector<Slab>& slabs() const { return slabs_; }

 private:
  int rank_ = 0;
  std::vector<Slab> slabs_;
};

/// The box grid of the PDE: a cell-centred DMDA in d = 1..3 (dof 1; PETSc
/// -da_* options apply, and everything uses the grid as built). A point on
/// an interior cell face is split evenly between the cells that share it
/// (weights in units of 2^-d).
class GridSpace : public CellSpace {
 public:
  /// Throws UsageError('grid.cells') when the grid cannot be split.
  GridSpace(MPI_Comm comm, const Box& box);
  const Grid& grid() const { return *grid_; }
  const Box& box() const { return grid_->box(); }
  void write_axes(OutputFile& out) const override;
  double cell_measure() const override { return box().cell_volume(); }
  bool is_line() const override { return box().dim == 1; }
  void locate(const Ensemble& e, std::vector<std::int64_t>& cells, std::vector<std::int64_t>& weights) const override;
  std::int64_t weight_scale() const override { return std::int64_t{1} << box().dim; }
  std::pair<int, std::int64_t> owner(std::int64_t cell) const override;

 private:
  std::unique_ptr<Grid> grid_;
  std::vector<std::vector<std::int64_t>> range_starts_;  ///< per axis: first index of each rank column
  std::array<int, 3> ranks_per_axis_{1, 1, 1};
};

/// The 2^L configurations x ∈ {0,1}^L of L sites, cell index
/// Σ_i x_i 2^{L−1−i} (site 0 the most significant bit), split over the
/// ranks as PETSc splits a Vec of that size. Units are configurations.
class StateVectorSpace : public CellSpace {
 public:
  StateVectorSpace(MPI_Comm comm, const std::string& name, int sites);
  int sites() const { return sites_; }
  /// A Vec with this space's layout (the caller destroys it). Collective.
  Vec create_vector() const;
  /// The same, holding this rank's block `owned`. Collective.
  Vec create_vector(const std::vector<double>& owned) const;
  /// This rank's block of a Vec of this layout. Not collective.
  static std::vector<double> owned_values(Vec v);
  void write_axes(OutputFile& out) const override;
  double cell_measure() const override { return 1.0; }
  bool is_line() const override { return false; }
  void locate(const Ensemble& e, std::vector<std::int64_t>& cells, std::vector<std::int64_t>& weights) const override;
  std::int64_t located_total(const Ensemble& e) const override { return e.total; }
  std::pair<int, std::int64_t> owner(std::int64_t cell) const override;

 private:
  int sites_;
  std::vector<std::int64_t> starts_;  ///< first state of each rank, and the total last
};

/// `bins` equal bins [lower + k w, lower + (k + 1) w) of a scalar observable
/// of a unit, split in contiguous ranges over the ranks. Units are the
/// things counted. (For an integer-valued observable, put the edges at half
/// integers.)
class BinSpace : public CellSpace {
 public:
  using Observable = std::function<double(const Ensemble& e, std::int64_t local_unit)>;
  /// `label` names the observable in the output.
  BinSpace(MPI_Comm comm, const std::string& name, std::string label, double lower, double upper, std::int64_t bins,
           Observable observable);
  void write_axes(OutputFile& out) const override;
  double cell_measure() const override { return width_; }
  bool is_line() const override { return true; }
  void locate(const Ensemble& e, std::vector<std::int64_t>& cells, std::vector<std::int64_t>& weights) const override;
  std::int64_t located_total(const Ensemble& e) const override { return e.total; }
  std::pair<int, std::int64_t> owner(std::int64_t cell) const override;

 private:
  std::string label_;
  double lower_, width_;
  Observable observable_;
  std::vector<std::int64_t> starts_;
};

/// The grid-free sample space of points in R^dim.
class SampleSpace : public StateSpace {
 public:
  SampleSpace(MPI_Comm comm, int dim) : StateSpace("samples", comm), dim_(dim) {}
  int dim() const { return dim_; }
  void write_axes(OutputFile& out) const override;

 private:
  int dim_;
};

}  // namespace twinflow
