#include "twinflow/run/state_space.hpp"

#include <petscdmda.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "twinflow/core/collective.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/core/petsc_error.hpp"
#include "twinflow/io/output_file.hpp"

namespace twinflow {
namespace {

// Visits the cells of a block in C order: pos inside the block and the
// natural index in the whole C-order array of `shape`.
template <class F>
void for_each_in_slab(const Slab& s, F&& f) {
  const std::size_t rank = s.shape.size();
  if (s.size() == 0) return;
  std::vector<std::int64_t> idx(rank, 0);
  for (std::int64_t pos = 0; pos < s.size(); ++pos) {
    std::int64_t natural = 0;
    for (std::size_t a = 0; a < rank; ++a) natural = natural * s.shape[a] + s.start[a] + idx[a];
    f(pos, natural);
    for (std::size_t a = rank; a-- > 0;) {
      if (++idx[a] < s.count[a]) break;
      idx[a] = 0;
    }
  }
}

// Rank owning index i of a contiguous split with the given starts (the last
// entry is the total).
int contiguous_owner(const std::vector<std::int64_t>& starts, std::int64_t i) {
  return static_cast<int>(std::upper_bound(starts.begin(), starts.end() - 1, i) - starts.begin()) - 1;
}

// An even contiguous split of n over the ranks, as PETSc splits a Vec.
std::vector<std::int64_t> contiguous_starts(MPI_Comm comm, std::int64_t n) {
  int size = 1;
  MPI_Comm_size(comm, &size);
  std::vector<std::int64_t> starts(static_cast<std::size_t>(size) + 1, 0);
  const std::int64_t base = n / size, extra = n % size;
  for (int r = 0; r < size; ++r) starts[r + 1] = starts[r] + base + (r < extra ? 1 : 0);
  return starts;
}

Slab contiguous_slab(MPI_Comm comm, const std::vector<std::int64_t>& starts) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  return Slab{{starts.back()}, {starts[rank]}, {starts[rank + 1] - starts[rank]}};
}

}  // namespace

std::int64_t Slab::size() const {
  std::int64_t n = 1;
  for (auto c : count) n *= c;
  return n;
}

std::int64_t CellSpace::total_cells() const {
  std::int64_t n = 1;
  for (auto s : slab().shape) n *= s;
  return n;
}

void CellSpace::set_slab(Slab mine) {
  int size = 1;
  MPI_Comm_rank(comm(), &rank_);
  MPI_Comm_size(comm(), &size);
  const int r = static_cast<int>(mine.shape.size());
  std::vector<std::int64_t> all(static_cast<std::size_t>(size) * 2 * r), own;
  own.insert(own.end(), mine.start.begin(), mine.start.end());
  own.insert(own.end(), mine.count.begin(), mine.count.end());
  collective_point(comm());
  MPI_Allgather(own.data(), 2 * r, MPI_INT64_T, all.data(), 2 * r, MPI_INT64_T, comm());
  slabs_.assign(static_cast<std::size_t>(size), Slab{mine.shape, {}, {}});
  for (int q = 0; q < size; ++q) {
    const auto* p = all.data() + static_cast<std::size_t>(q) * 2 * r;
    slabs_[q].start.assign(p, p + r);
    slabs_[q].count.assign(p + r, p + 2 * r);
  }
}

void CellSpace::histogram(const Ensemble& e, std::vector<double>& owned) const {
  std::vector<std::int64_t> cells, weights;
  locate(e, cells, weights);
  // Aggregate this rank's weights per cell: densely when the space is no
  // larger than what was located (the memory is that of the samples
  // anyway), by sorting otherwise.
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
  const std::int64_t total = total_cells();
  if (total <= static_cast<std::int64_t>(cells.size())) {
    std::vector<std::int64_t> dense(static_cast<std::size_t>(total), 0);
    for (std::size_t i = 0; i < cells.size(); ++i) dense[cells[i]] += weights[i];
    for (std::int64_t c = 0; c < total; ++c)
      if (dense[c]) pairs.emplace_back(c, dense[c]);
  } else {
    std::vector<std::size_t> order(cells.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return cells[a] < cells[b]; });
    for (std::size_t i : order) {
      if (!pairs.empty() && pairs.back().first == cells[i])
        pairs.back().second += weights[i];
      else
        pairs.emplace_back(cells[i], weights[i]);
    }
  }
  // Send each (position in the owner's block, weight) pair to its owner.
  const int size = static_cast<int>(slabs_.size());
  std::vector<std::vector<std::int64_t>> outgoing(static_cast<std::size_t>(size));
  for (const auto& [cell, weight] : pairs) {
    const auto [rank, pos] = owner(cell);
    outgoing[rank].push_back(pos);
    outgoing[rank].push_back(weight);
  }
  std::vector<int> send_counts(static_cast<std::size_t>(size)), recv_counts(send_counts.size()),
      send_displs(send_counts.size()), recv_displs(send_counts.size());
  std::vector<std::int64_t> send;
  for (int r = 0; r < size; ++r) {
    send_counts[r] = static_cast<int>(outgoing[r].size());
    send_displs[r] = static_cast<int>(send.size());
    send.insert(send.end(), outgoing[r].begin(), outgoing[r].end());
  }
  collective_point(comm());
  MPI_Alltoall(send_counts.data(), 1, MPI_INT, recv_counts.data(), 1, MPI_INT, comm());
  int received = 0;
  for (int r = 0; r < size; ++r) recv_displs[r] = received, received += recv_counts[r];
  std::vector<std::int64_t> recv(static_cast<std::size_t>(received));
  MPI_Alltoallv(send.data(), send_counts.data(), send_displs.data(), MPI_INT64_T, recv.data(), recv_counts.data(),
                recv_displs.data(), MPI_INT64_T, comm());
  std::vector<std::int64_t> counts(static_cast<std::size_t>(slab().size()), 0);
  for (std::size_t i = 0; i + 1 < recv.size(); i += 2) counts[recv[i]] += recv[i + 1];
  // Weights are integers in units of 1/weight_scale (a power of two), so
  // the division is exact.
  const double unit = 1.0 / static_cast<double>(weight_scale());
  const double scale = 1.0 / (static_cast<double>(located_total(e)) * cell_measure());
  owned.resize(counts.size());
  for (std::size_t i = 0; i < counts.size(); ++i) owned[i] = (static_cast<double>(counts[i]) * unit) * scale;
}

void CellSpace::gather(const std::vector<double>& owned, int components, std::vector<double>& full) const {
  const int size = static_cast<int>(slabs_.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(counts.size());
  int n = 0;
  for (int r = 0; r < size; ++r) {
    counts[r] = static_cast<int>(slabs_[r].size() * components);
    displs[r] = n;
    n += counts[r];
  }
  std::vector<double> blocks(static_cast<std::size_t>(n));
  collective_point(comm());
  MPI_Allgatherv(owned.data(), counts[rank_], MPI_DOUBLE, blocks.data(), counts.data(), displs.data(), MPI_DOUBLE,
                 comm());
  full.assign(static_cast<std::size_t>(total_cells() * components), 0.0);
  for (int r = 0; r < size; ++r)
    for_each_in_slab(slabs_[r], [&](std::int64_t pos, std::int64_t natural) {
      for (int c = 0; c < components; ++c) full[natural * components + c] = blocks[displs[r] + pos * components + c];
    });
}

GridSpace::GridSpace(MPI_Comm comm, const Box& box) : CellSpace("grid", comm), grid_(std::make_unique<Grid>(comm, box)) {
  const Box& b = grid_->box();
  Slab mine;
  for (int a = 0; a < b.dim; ++a) {
    mine.shape.push_back(b.cells[a]);
    mine.start.push_back(grid_->owned().start[a]);
    mine.count.push_back(grid_->owned().count[a]);
  }
  set_slab(mine);
  // The DMDA splits each axis into ranges; rank = i + m (j + n k) for the
  // range indices (i, j, k) along the axes.
  PetscInt m = 1, n = 1, p = 1;
  const PetscInt *lx = nullptr, *ly = nullptr, *lz = nullptr;
  TF_CHECK_PETSC(DMDAGetInfo(grid_->dm(), nullptr, nullptr, nullptr, nullptr, &m, &n, &p, nullptr, nullptr, nullptr,
                             nullptr, nullptr, nullptr));
  TF_CHECK_PETSC(DMDAGetOwnershipRanges(grid_->dm(), &lx, &ly, &lz));
  ranks_per_axis_ = {static_cast<int>(m), static_cast<int>(n), static_cast<int>(p)};
  const PetscInt* ranges[3] = {lx, ly, lz};
  for (int a = 0; a < b.dim; ++a) {
    std::vector<std::int64_t> starts{0};
    for (int r = 0; r < ranks_per_axis_[a]; ++r) starts.push_back(starts.back() + ranges[a][r]);
    range_starts_.push_back(std::move(starts));
  }
}

void GridSpace::write_axes(OutputFile& out) const { out.write_grid(box()); }

void GridSpace::locate(const Ensemble& e, std::vector<std::int64_t>& cells, std::vector<std::int64_t>& weights) const {
  const Box& b = box();
  const int d = b.dim;
  cells.clear();
  weights.clear();
  cells.reserve(static_cast<std::size_t>(e.points()));
  weights.reserve(cells.capacity());
  const std::int64_t points = e.points();
  for (std::int64_t q = 0; q < points; ++q) {
    const double* x = &e.x[static_cast<std::size_t>(q * e.dim)];
    // Per axis one cell, or the two cells sharing a face the point is on.
    std::int64_t lo[3], n[3];
    bool inside = true;
    for (int a = 0; a < d && inside; ++a) {
      const double h = b.spacing(a), f = (x[a] - b.lower[a]) / h;
      const auto face = std::abs(f) < 4e18 ? static_cast<std::int64_t>(std::llround(f)) : std::int64_t{0};
      if (std::abs(f) < 4e18 && on_face(x[a], b.lower[a] + static_cast<double>(face) * h)) {
        lo[a] = face - 1, n[a] = 2;  // shared by the cells face − 1 and face
      } else if (f >= 0 && f < static_cast<double>(b.cells[a])) {
        lo[a] = static_cast<std::int64_t>(f), n[a] = 1;
      } else {
        inside = false;
      }
    }
    if (!inside) continue;
    const int corners = 1 << d;
    for (int corner = 0; corner < corners; ++corner) {
      std::int64_t cell = 0, weight = 1;
      bool valid = true;
      for (int a = 0; a < d; ++a) {
        const int up = (corner >> a) & 1;
        if (up >= n[a]) {
          valid = false;
          break;
        }
        const std::int64_t i = lo[a] + up;
        if (i < 0 || i >= b.cells[a]) {
          valid = false;
          break;
        }
        cell = cell * b.cells[a] + i;
        weight *= n[a] == 1 ? 2 : 1;
      }
      if (valid) cells.push_back(cell), weights.push_back(weight);
    }
  }
}

std::pair<int, std::int64_t> GridSpace::owner(std::int64_t cell) const {
  const Box& b = box();
  std::int64_t idx[3] = {0, 0, 0};
  for (int a = b.dim; a-- > 0;) {
    idx[a] = cell % b.cells[a];
    cell /= b.cells[a];
  }
  int range[3] = {0, 0, 0};
  for (int a = 0; a < b.dim; ++a) range[a] = contiguous_owner(range_starts_[a], idx[a]);
  const int rank = range[0] + ranks_per_axis_[0] * (range[1] + ranks_per_axis_[1] * range[2]);
  const Slab& s = slabs()[static_cast<std::size_t>(rank)];
  std::int64_t pos = 0;
  for (int a = 0; a < b.dim; ++a) pos = pos * s.count[a] + (idx[a] - s.start[a]);
  return {rank, pos};
}

StateVectorSpace::StateVectorSpace(MPI_Comm comm, const std::string& name, int sites)
    : CellSpace(name, comm), sites_(sites) {
  if (sites < 1 || sites > 40)
    throw UsageError(name, "has " + std::to_string(sites) + " sites; accepted: 1 to 40 sites for a full state vector");
  // The split PETSc makes of a Vec of 2^L entries over the ranks.
  PetscInt local = PETSC_DECIDE, global = static_cast<PetscInt>(std::int64_t{1} << sites);
  TF_CHECK_PETSC(PetscSplitOwnership(comm, &local, &global));
  std::int64_t mine = local;
  int size = 1;
  MPI_Comm_size(comm, &size);
  std::vector<std::int64_t> counts(static_cast<std::size_t>(size));
  collective_point(comm);
  MPI_Allgather(&mine, 1, MPI_INT64_T, counts.data(), 1, MPI_INT64_T, comm);
  starts_.assign(1, 0);
  for (auto c : counts) starts_.push_back(starts_.back() + c);
  set_slab(contiguous_slab(comm, starts_));
}

Vec StateVectorSpace::create_vector() const {
  Vec v = nullptr;
  TF_CHECK_PETSC(VecCreateMPI(comm(), static_cast<PetscInt>(slab().count[0]), static_cast<PetscInt>(total_cells()), &v));
  return v;
}

Vec StateVectorSpace::create_vector(const std::vector<double>& owned) const {
  Vec v = create_vector();
  PetscScalar* a = nullptr;
  TF_CHECK_PETSC(VecGetArray(v, &a));
  std::copy(owned.begin(), owned.end(), a);
  TF_CHECK_PETSC(VecRestoreArray(v, &a));
  return v;
}

std::vector<double> StateVectorSpace::owned_values(Vec v) {
  PetscInt n = 0;
  TF_CHECK_PETSC(VecGetLocalSize(v, &n));
  const PetscScalar* a = nullptr;
  TF_CHECK_PETSC(VecGetArrayRead(v, &a));
  std::vector<double> out(a, a + n);
  TF_CHECK_PETSC(VecRestoreArrayRead(v, &a));
  return out;
}

void StateVectorSpace::write_axes(OutputFile& out) const {
  out.group("/" + name());
  out.attribute("/" + name(), "sites", static_cast<std::int64_t>(sites_));
  out.attribute("/" + name(), "states", total_cells());
  out.attribute("/" + name(), "index", std::string("sum_i x_i 2^(L-1-i), site 0 the most significant bit"));
}

void StateVectorSpace::locate(const Ensemble& e, std::vector<std::int64_t>& cells,
                              std::vector<std::int64_t>& weights) const {
  cells.resize(static_cast<std::size_t>(e.count));
  weights.assign(cells.size(), 1);
  for (std::int64_t u = 0; u < e.count; ++u) {
    std::int64_t index = 0;
    for (int i = 0; i < sites_; ++i) index = (index << 1) | (e.site(u, i) ? 1 : 0);
    cells[u] = index;
  }
}

std::pair<int, std::int64_t> StateVectorSpace::owner(std::int64_t cell) const {
  const int r = contiguous_owner(starts_, cell);
  return {r, cell - starts_[r]};
}

BinSpace::BinSpace(MPI_Comm comm, const std::string& name, std::string label, double lower, double upper,
                   std::int64_t bins, Observable observable)
    : CellSpace(name, comm),
      label_(std::move(label)),
      lower_(lower),
      width_((upper - lower) / static_cast<double>(bins)),
      observable_(std::move(observable)) {
  if (!(upper > lower) || bins < 1) throw std::invalid_argument("BinSpace: needs upper > lower and bins >= 1");
  starts_ = contiguous_starts(comm, bins);
  set_slab(contiguous_slab(comm, starts_));
}

void BinSpace::write_axes(OutputFile& out) const {
  std::vector<double> edges, centres;
  for (std::int64_t k = 0; k <= total_cells(); ++k) edges.push_back(lower_ + static_cast<double>(k) * width_);
  for (std::int64_t k = 0; k < total_cells(); ++k) centres.push_back(lower_ + (static_cast<double>(k) + 0.5) * width_);
  out.write_vector("/" + name() + "/edges", edges);
  out.write_vector("/" + name() + "/centres", centres);
  out.attribute("/" + name(), "observable", label_);
}

void BinSpace::locate(const Ensemble& e, std::vector<std::int64_t>& cells, std::vector<std::int64_t>& weights) const {
  cells.clear();
  weights.clear();
  const std::int64_t bins = total_cells();
  for (std::int64_t u = 0; u < e.count; ++u) {
    const double f = (observable_(e, u) - lower_) / width_;
    if (!(f >= 0) || !(f < static_cast<double>(bins))) continue;
    cells.push_back(static_cast<std::int64_t>(f));
    weights.push_back(1);
  }
}

std::pair<int, std::int64_t> BinSpace::owner(std::int64_t cell) const {
  const int r = contiguous_owner(starts_, cell);
  return {r, cell - starts_[r]};
}

void SampleSpace::write_axes(OutputFile& out) const {
  out.group("/samples");
  out.attribute("/samples", "dim", static_cast<std::int64_t>(dim_));
  out.attribute("/samples", "kind", std::string("grid-free sample space: moments, log-likelihood, sliced W1"));
}

}  // namespace twinflow
