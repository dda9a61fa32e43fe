#pragma once
// The Kac flow's velocity as a neural network (`kac.velocity=nn`), trained
// by flow matching (README, "The Kac flow with a trained velocity"): the
// regression of the conditional velocity v_K(t, X_t − X_0) (kac_law.hpp) on
// (X_t, t), with X_0 from the data, t uniform on (0, T] and X_t = X_0 + K_t
// by the exact Kac process per coordinate. Its minimiser is the marginal
// velocity E[v_K(t, X_t − X_0) | X_t] that ExactVelocity has in closed form.
// Training pair number g (iteration k, pair i of the global batch B, g =
// kB + i) is drawn from (seed, g) alone, so each rank draws its share of
// every batch and the trained network depends only on the rank count.
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kac_law.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/math/gaussian_mixture.hpp"
#include "twinflow/nn/velocity_network.hpp"
#include "twinflow/run/flow_sampler.hpp"

namespace twinflow::kac {

/// Declares kac.nn.width, .depth, .iterations, .batch and .lr.
void declare_neural_options(OptionSet& o);

class NeuralVelocity : public VelocityModel {
 public:
  /// Validates the kac.nn.* keys (UsageError naming the key); the network
  /// at its initial weights. Not collective.
  NeuralVelocity(const Config& c, MPI_Comm comm, int dim, std::uint64_t seed);

  /// Collective. Trains on the data law carried by the Kac process up to T
  /// (a batch needs at least one pair per rank: UsageError naming
  /// kac.nn.batch; a restart on more ranks does not train, so it may).
  void train(const GaussianMixture& data, const KacLaw& law, double horizon);
  /// Collective. Saves the trained weights and the training's record, or
  /// restores them (a restarted run does not train again).
  void checkpoint(CheckpointArchive& archive);

  void evaluate(double t, const double* x, std::int64_t n, double* v) override { net_.evaluate(t, x, n, v); }

  const VelocityNetwork& network() const { return net_; }
  std::int64_t iterations() const { return iterations_; }
  std::int64_t batch() const { return batch_; }
  double learning_rate() const { return learning_rate_; }
  /// The loss of every iteration's batch, before its step.
  const std::vector<double>& losses() const { return losses_; }
  double seconds() const { return seconds_; }  ///< the training's wall time (the slowest rank's)
  bool restored() const { return restored_; }

 private:
  MPI_Comm comm_;
  std::uint64_t seed_;
  std::int64_t iterations_, batch_;
  double learning_rate_;
  VelocityNetwork net_;
  std::vector<double> losses_;
  double seconds_ = 0;
  bool restored_ = false;
};

}  // namespace twinflow::kac
