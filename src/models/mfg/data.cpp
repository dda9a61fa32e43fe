#include "data.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

#include "toy_sets.hpp"
#include "twinflow/core/error.hpp"

namespace twinflow::mfg {
namespace {

/// The stream of the data points (training, fresh and baseline sets).
constexpr Stream kDataPoints = Stream::kFamily;
/// The embedding's normals: a stream of their own under a fixed seed, not
/// the run's.
constexpr Stream kEmbeddingStream = static_cast<Stream>(static_cast<std::uint64_t>(Stream::kFamily) + 1);
constexpr std::uint64_t kEmbeddingSeed = 0;

std::string toy_list() {
  std::string s;
  for (const std::string& n : toy_set_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// Points of a file, one per line of `dim` numbers.
std::vector<double> read_points(const std::string& path, int dim) {
  std::ifstream in(path);
  if (!in) throw UsageError("mfg.data", "cannot read '" + path + "'; accepted: a readable file of points");
  std::vector<double> points;
  std::string line;
  for (std::int64_t number = 1; std::getline(in, line); ++number) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::istringstream row(line);
    std::vector<double> p;
    for (double v; row >> v;) p.push_back(v);
    row.clear();
    std::string rest;
    row >> rest;
    if (!rest.empty() || static_cast<int>(p.size()) != dim)
      throw UsageError("mfg.data", "'" + path + "' line " + std::to_string(number) + " is not " + std::to_string(dim) +
                                       " numbers; accepted: one point of grid.dim coordinates per line");
    points.insert(points.end(), p.begin(), p.end());
  }
  return points;
}

}  // namespace

DataSource::DataSource(const std::string& spec, int dim, std::int64_t train, std::uint64_t seed)
    : dim_(dim), train_(train), seed_(seed) {
  const std::size_t d = static_cast<std::size_t>(dim);
  if (spec.rfind("toy:", 0) == 0) {
    toy_ = spec.substr(4);
    if (!is_toy_set(toy_))
      throw UsageError("mfg.data", "has no toy set '" + toy_ + "'; accepted: toy:NAME with NAME one of " + toy_list());
    if (dim == 1 || dim == 3)
      throw UsageError("grid.dim", "is " + std::to_string(dim) +
                                       " but a toy set is 2-D on the grid, or a plane in the grid-free sample space; "
                                       "accepted: 2, or 4 and more with toy:NAME");
    kind_ = "toy:" + toy_;
    if (dim >= 4) {
      // Q: the orthonormal factor of a d × 2 matrix of standard normals of a
      // fixed key, so that the plane does not depend on the run's seed.
      const CounterRng fixed(kEmbeddingSeed, kEmbeddingStream);
      Eigen::MatrixXd a(dim, 2);
      for (int j = 0; j < 2; ++j) fixed.normals(static_cast<std::uint64_t>(j), 0, a.col(j).data(), dim);
      const Eigen::MatrixXd q = Eigen::HouseholderQR<Eigen::MatrixXd>(a).householderQ() * Eigen::MatrixXd::Identity(dim, 2);
      embedding_.resize(d * 2);
      for (int i = 0; i < dim; ++i)
        for (int j = 0; j < 2; ++j) embedding_[static_cast<std::size_t>(i * 2 + j)] = q(i, j);
    }
  } else if (spec.rfind("file:", 0) == 0) {
    kind_ = "file";
    const std::vector<double> points = read_points(spec.substr(5), dim);
    const auto total = static_cast<std::int64_t>(points.size() / d);
    if (total <= train)
      throw UsageError("mfg.train", "is " + std::to_string(train) + " but '" + spec.substr(5) + "' holds " +
                                        std::to_string(total) + " points; accepted: fewer than the file's points "
                                        "(the rest are held out)");
    // An order fixed by the seed: point i's rank in the order is that of
    // a Philox word keyed by (seed, i).
    const CounterRng rng(seed, kDataPoints);
    std::vector<std::int64_t> order(static_cast<std::size_t>(total));
    std::iota(order.begin(), order.end(), 0);
    std::vector<std::uint64_t> key(order.size());
    for (std::int64_t i = 0; i < total; ++i) key[i] = rng.words(static_cast<std::uint64_t>(i), 0)[0];
    std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return key[a] < key[b]; });
    const std::int64_t fresh = std::min(train, total - train);
    for (std::int64_t k = 0; k < train + fresh; ++k) {
      auto& to = k < train ? training_ : fresh_;
      to.insert(to.end(), points.begin() + order[k] * dim, points.begin() + (order[k] + 1) * dim);
    }
    return;
  } else {
    mixture_ = GaussianMixture::parse("mfg.data", spec, dim);
    kind_ = "mixture";
  }
  training_.resize(static_cast<std::size_t>(train) * d);
  fresh_.resize(static_cast<std::size_t>(train) * d);
  for (std::int64_t i = 0; i < train; ++i) {
    draw(static_cast<std::uint64_t>(i), &training_[i * d]);
    draw(static_cast<std::uint64_t>(train + i), &fresh_[i * d]);
  }
}

void DataSource::draw(std::uint64_t id, double* x) const {
  const CounterRng rng(seed_, kDataPoints);
  if (mixture_) {
    mixture_->sample(rng, id, x);
  } else if (embedding_.empty()) {
    draw_toy_point(toy_, rng, id, x);
  } else {
    double p[2];
    draw_toy_point(toy_, rng, id, p);
    for (int i = 0; i < dim_; ++i) x[i] = embedding_[i * 2] * p[0] + embedding_[i * 2 + 1] * p[1];
  }
}

double DataSource::plane_distance(const double* x) const {
  double c[2] = {0, 0}, r2 = 0;  // Qᵀx, then |x − Q Qᵀx|²
  for (int i = 0; i < dim_; ++i) c[0] += embedding_[i * 2] * x[i], c[1] += embedding_[i * 2 + 1] * x[i];
  for (int i = 0; i < dim_; ++i) {
    const double r = x[i] - embedding_[i * 2] * c[0] - embedding_[i * 2 + 1] * c[1];
    r2 += r * r;
  }
  return std::sqrt(r2);
}

std::vector<double> DataSource::baseline(std::int64_t first, std::int64_t count) const {
  std::vector<double> x(static_cast<std::size_t>(count * dim_));
  for (std::int64_t i = 0; i < count; ++i) draw(static_cast<std::uint64_t>(2 * train_ + first + i), &x[i * dim_]);
  return x;
}

GaussianMixture DataSource::training_law() const {
  std::vector<GaussianComponent> masses;
  for (std::int64_t i = 0; i < train_; ++i)
    masses.push_back({1.0 / static_cast<double>(train_),
                      {training_.begin() + i * dim_, training_.begin() + (i + 1) * dim_},
                      std::vector<double>(static_cast<std::size_t>(dim_ * dim_), 0.0)});
  return GaussianMixture("mfg.data", dim_, std::move(masses));
}

}  // namespace twinflow::mfg
