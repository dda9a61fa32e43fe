#include "neural_velocity.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "samplers.hpp"
#include "twinflow/core/collective.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/rng/counter_rng.hpp"
#include "twinflow/run/ensemble.hpp"

namespace twinflow::kac {
namespace {

VelocityNetwork::Shape shape_of(const Config& c, int dim) {
  const VelocityNetwork::Shape shape{dim, static_cast<int>(c.integer("kac.nn.width")),
                                     static_cast<int>(c.integer("kac.nn.depth"))};
  if (VelocityNetwork::parameter_count(shape) > VelocityNetwork::kMaxParameters)
    throw UsageError("kac.nn.width", "and kac.nn.depth give " +
                                         std::to_string(VelocityNetwork::parameter_count(shape)) +
                                         " parameters; accepted: at most " +
                                         std::to_string(VelocityNetwork::kMaxParameters));
  return shape;
}

std::string shape_text(const VelocityNetwork::Shape& s) {
  return "dim " + std::to_string(s.dim) + ", width " + std::to_string(s.width) + ", depth " + std::to_string(s.depth);
}

// The data law (diagonal covariances, as kac requires) in the kac.data
// syntax at full precision: weight:mean:variance per component, ';' between
// them, coordinates joined by ','.
std::string data_text(const GaussianMixture& data) {
  const auto d = static_cast<std::size_t>(data.dim());
  std::string text;
  char number[32];
  const auto put = [&](double v) {
    std::snprintf(number, sizeof number, "%.17g", v);
    text += number;
  };
  for (const auto& comp : data.components()) {
    if (!text.empty()) text += ";";
    put(comp.weight);
    for (const bool variance : {false, true}) {
      text += ":";
      for (std::size_t a = 0; a < d; ++a) {
        if (a) text += ",";
        put(variance ? comp.covariance[a * d + a] : comp.mean[a]);
      }
    }
  }
  return text;
}

}  // namespace

void declare_neural_options(OptionSet& o) {
  o.add("kac.nn.width", "256", "units per hidden layer of the neural velocity (kac.velocity=nn)",
        Accept::integer(1, 1e5));
  o.add("kac.nn.depth", "3", "hidden layers of the neural velocity", Accept::integer(1, 100));
  o.add("kac.nn.iterations", "1000", "Adam steps of the neural velocity's flow-matching training",
        Accept::integer(1, 1e9));
  o.add("kac.nn.batch", "512", "regression pairs per step over all ranks (at least one per rank)",
        Accept::integer(1, 1e9));
  o.add("kac.nn.lr", "1e-3", "Adam's learning rate for the neural velocity", Accept::positive_real());
  o.add("kac.nn.model", "",
        "a neural velocity saved by an earlier run (its <output>.kac_velocity.pt): generate with it, no training",
        Accept::any_text("empty (train), or the path of a saved network of this run's flow and shape"));
}

NeuralVelocity::NeuralVelocity(const Config& c, MPI_Comm comm, FlowPath path, GaussianMixture data, KacLaw law,
                               double horizon, std::uint64_t seed)
    : comm_(comm),
      path_(path),
      data_(std::move(data)),
      law_(law),
      horizon_(horizon),
      seed_(seed),
      iterations_(c.integer("kac.nn.iterations")),
      batch_(c.integer("kac.nn.batch")),
      learning_rate_(c.real("kac.nn.lr")),
      model_path_(path == FlowPath::kKac ? c.text("kac.nn.model") : ""),
      net_(shape_of(c, data_.dim()), seed, learning_rate_) {
  if (model_path_.empty()) {
    // Checked here, before the run writes anything (a restart on more ranks
    // than pairs, after training, is refused too).
    int ranks = 1;
    MPI_Comm_size(comm_, &ranks);
    if (batch_ < ranks)
      throw UsageError("kac.nn.batch", std::to_string(batch_) + " pairs for " + std::to_string(ranks) +
                                           " ranks; accepted: at least one pair per rank (" + std::to_string(ranks) +
                                           " or more)");
    return;
  }
  VelocityNetwork::Saved saved;
  try {
    saved = VelocityNetwork::load(model_path_);
  } catch (const std::runtime_error& e) {
    throw UsageError("kac.nn.model", "'" + model_path_ + "': " + e.what() +
                                         "; accepted: a network saved by a kac.velocity=nn run");
  }
  if (!(saved.shape == net_.shape()))
    throw UsageError("kac.nn.model", "'" + model_path_ + "' is a network of " + shape_text(saved.shape) +
                                         "; accepted: one of this run's shape (" + shape_text(net_.shape()) +
                                         ", from the state and kac.nn.width, kac.nn.depth)");
  if (saved.flow != flow_description())
    throw UsageError("kac.nn.model", "'" + model_path_ + "' is the velocity of another flow (" + saved.flow +
                                         "); accepted: one of this run's (" + flow_description() + ")");
  net_.set_parameters(saved.parameters);
  iterations_ = 0;
}

double NeuralVelocity::time_span() const { return path_ == FlowPath::kKac ? horizon_ : std::sqrt(horizon_); }

std::string NeuralVelocity::flow_description() const {
  // The same words for the same flow on every rank and run: %.17g.
  char line[200];
  if (path_ == FlowPath::kKac)
    std::snprintf(line, sizeof line, "kac flow: a = %.17g, c = %.17g, T = %.17g", law_.rate(), law_.speed(), horizon_);
  else
    std::snprintf(line, sizeof line, "variance-exploding flow in sigma = sqrt(t): T = %.17g", horizon_);
  return std::string(line) + ", data " + data_text(data_);
}

void NeuralVelocity::begin_training() {
  const int d = net_.shape().dim;
  const Ensemble mine = Ensemble::partition(comm_, batch_, d);
  first_ = mine.first_id;
  count_ = mine.count;
  x_.resize(static_cast<std::size_t>(count_ * d));
  y_.resize(x_.size());
  t_.resize(static_cast<std::size_t>(count_));
}

double NeuralVelocity::train_iteration() {
  const double start = MPI_Wtime();
  const int d = net_.shape().dim;
  const auto k = static_cast<std::int64_t>(losses_.size());
  const double span = time_span();
  // Pair g: X_0 from draws (g, ·, ·) of its own stream; its time from block
  // d of the pair stream; coordinate a's Kac path from blocks a (KacPath),
  // the variance-exploding noise from the blocks after d.
  const CounterRng data_rng(seed_, Stream::kTrainingData), pair_rng(seed_, Stream::kTrainingBatch);
  std::vector<double> origin(static_cast<std::size_t>(d)), noise(static_cast<std::size_t>(d));
  for (std::int64_t i = 0; i < count_; ++i) {
    const auto g = static_cast<std::uint64_t>(k * batch_ + first_ + i);
    data_.sample(data_rng, g, origin.data());
    const double tau = span * pair_rng.uniform(g, 0, static_cast<std::uint64_t>(d));
    t_[i] = tau;
    if (path_ == FlowPath::kVarianceExploding)
      pair_rng.normals(g, 0, noise.data(), d, static_cast<std::uint64_t>(d) + 1);
    for (int a = 0; a < d; ++a) {
      double& x = x_[i * d + a];
      double& y = y_[i * d + a];
      if (path_ == FlowPath::kKac) {
        KacPath p = KacPath::start(pair_rng, g, static_cast<std::uint64_t>(a), law_.rate());
        p.advance(pair_rng, g, static_cast<std::uint64_t>(a), law_, 0, tau);
        x = origin[a] + p.position;
        y = law_.conditional_velocity(tau, p.position);
      } else {
        x = origin[a] + tau * noise[a];
        y = noise[a];
      }
    }
  }
  losses_.push_back(net_.train_step(comm_, x_.data(), t_.data(), y_.data(), count_, batch_));
  seconds_ += MPI_Wtime() - start;
  return losses_.back();
}

void NeuralVelocity::finish_training() { seconds_ = max_over_ranks(comm_, seconds_); }

void NeuralVelocity::checkpoint(CheckpointArchive& a) {
  std::vector<double> weights = net_.parameters(), adam = net_.optimiser_state();
  double seconds = max_over_ranks(comm_, seconds_);
  a.replicated("weights", weights);
  a.replicated("adam_state", adam);
  a.replicated("losses", losses_);
  a.value("seconds", seconds);
  if (a.saving()) return;
  net_.set_parameters(weights);
  net_.set_optimiser_state(adam);
  seconds_ = seconds;
}

Ensemble variance_exploding_start(Ensemble units, const GaussianMixture& data, std::uint64_t seed, double horizon) {
  const CounterRng data_rng(seed, Stream::kData), noise_rng(seed, Stream::kReverseStart);
  const int d = units.dim;
  const double sigma = std::sqrt(horizon);
  units.x.resize(static_cast<std::size_t>(units.count * d));
  std::vector<double> noise(static_cast<std::size_t>(d));
  for (std::int64_t p = 0; p < units.count; ++p) {
    const auto id = static_cast<std::uint64_t>(units.first_id + p);
    double* x = &units.x[static_cast<std::size_t>(p * d)];
    data.sample(data_rng, id, x);
    noise_rng.normals(id, 0, noise.data(), d);
    for (int a = 0; a < d; ++a) x[a] += sigma * noise[a];
  }
  return units;
}

}  // namespace twinflow::kac
