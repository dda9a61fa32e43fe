#include "neural_velocity.hpp"

#include <algorithm>

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
}

NeuralVelocity::NeuralVelocity(const Config& c, MPI_Comm comm, int dim, std::uint64_t seed)
    : comm_(comm),
      seed_(seed),
      iterations_(c.integer("kac.nn.iterations")),
      batch_(c.integer("kac.nn.batch")),
      learning_rate_(c.real("kac.nn.lr")),
      net_(shape_of(c, dim), seed, learning_rate_) {}

void NeuralVelocity::train(const GaussianMixture& data, const KacLaw& law, double horizon) {
  int ranks = 1;
  MPI_Comm_size(comm_, &ranks);
  if (batch_ < ranks)
    throw UsageError("kac.nn.batch", std::to_string(batch_) + " pairs for " + std::to_string(ranks) +
                                         " ranks; accepted: at least one pair per rank (" + std::to_string(ranks) +
                                         " or more)");
  const int d = net_.shape().dim;
  const Ensemble mine = Ensemble::partition(comm_, batch_, d);
  // Pair g: X_0 from draws (g, ·, ·) of its own stream; coordinate a's Kac
  // path from blocks a of the pair stream (KacPath), its time from block d.
  const CounterRng data_rng(seed_, Stream::kTrainingData), pair_rng(seed_, Stream::kTrainingBatch);
  std::vector<double> x(static_cast<std::size_t>(mine.count * d)), t(static_cast<std::size_t>(mine.count)),
      y(x.size()), origin(static_cast<std::size_t>(d));
  const double start = MPI_Wtime();
  losses_.clear();
  for (std::int64_t k = 0; k < iterations_; ++k) {
    for (std::int64_t i = 0; i < mine.count; ++i) {
      const auto g = static_cast<std::uint64_t>(k * batch_ + mine.first_id + i);
      data.sample(data_rng, g, origin.data());
      t[i] = horizon * pair_rng.uniform(g, 0, static_cast<std::uint64_t>(d));
      for (int a = 0; a < d; ++a) {
        KacPath path = KacPath::start(pair_rng, g, static_cast<std::uint64_t>(a), law.rate());
        path.advance(pair_rng, g, static_cast<std::uint64_t>(a), law, 0, t[i]);
        x[i * d + a] = origin[a] + path.position;
        y[i * d + a] = law.conditional_velocity(t[i], path.position);
      }
    }
    losses_.push_back(net_.train_step(comm_, x.data(), t.data(), y.data(), mine.count, batch_));
  }
  seconds_ = max_over_ranks(comm_, MPI_Wtime() - start);
}

void NeuralVelocity::checkpoint(CheckpointArchive& a) {
  std::vector<double> weights = net_.parameters();
  a.replicated("weights", weights);
  a.replicated("losses", losses_);
  a.value("seconds", seconds_);
  if (a.saving()) return;
  net_.set_parameters(weights);
  restored_ = true;
}

}  // namespace twinflow::kac
