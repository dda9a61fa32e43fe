#pragma once
// Flow velocities as neural networks (docs/kac.md, "The Kac flow with a
// trained velocity"), trained by flow matching: the regression of a conditional
// velocity on (x_τ, τ), with X_0 from the data and τ uniform on (0, τ_max].
// Its minimiser is the marginal velocity E[target | x_τ]. Two conditional
// paths, trained and sampled by the same code:
//   kac                 τ = t ∈ (0, T], x = X_0 + K_t by the exact Kac
//                       process per coordinate, target v_K(t, K_t)
//                       (kac_law.hpp), at most c in size: `kac.velocity=nn`;
//   variance-exploding  τ = σ = √t ∈ (0, √T], x = X_0 + σ ε with ε standard
//                       normal, target dx/dσ = ε: the diffusion baseline
//                       x_t = X_0 + √t ε (`kac.baseline=ve`) in the time σ,
//                       where its velocity has unit variance; in t it is
//                       ε/(2√t), whose mean square over t uniform on (0, T]
//                       is infinite.
// Training pair number g (iteration k, pair i of the global batch B, g =
// kB + i) is drawn from (seed, g) alone, the same data point X_0 for both
// paths, so each rank draws its share of every batch and the trained
// network depends only on the rank count.
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
#include "twinflow/run/stages.hpp"

namespace twinflow::kac {

/// Declares kac.nn.width, .depth, .iterations, .batch, .lr and .model.
void declare_neural_options(OptionSet& o);

enum class FlowPath { kKac, kVarianceExploding };

class NeuralVelocity : public VelocityModel, public Trainable {
 public:
  /// Validates the kac.nn.* keys (UsageError naming the key; a batch needs
  /// at least one pair per rank). The network
  /// at its initial weights, or for the Kac path with kac.nn.model set, the
  /// saved network (UsageError naming kac.nn.model for a file that is
  /// missing, not a saved network, or of another shape or flow). Not
  /// collective.
  NeuralVelocity(const Config& c, MPI_Comm comm, FlowPath path, GaussianMixture data, KacLaw law, double horizon,
                 std::uint64_t seed);

  /// The end τ_max of the path's time (T, or √T in σ).
  double time_span() const;
  /// The flow the network belongs to, saved with it and checked on load.
  std::string flow_description() const;
  /// True when the network came from kac.nn.model (it is not trained).
  bool loaded() const { return !model_path_.empty(); }
  const std::string& model_path() const { return model_path_; }

  // Trainable (collective).
  std::int64_t iterations() const override { return iterations_; }
  std::int64_t iterations_done() const override { return static_cast<std::int64_t>(losses_.size()); }
  void begin_training() override;
  double train_iteration() override;
  void finish_training() override;
  /// Collective. Saves or restores the weights, Adam's state and the record.
  void checkpoint(CheckpointArchive& archive);

  void evaluate(double t, const double* x, std::int64_t n, double* v) override { net_.evaluate(t, x, n, v); }

  const VelocityNetwork& network() const { return net_; }
  std::int64_t batch() const { return batch_; }
  double learning_rate() const { return learning_rate_; }
  /// The loss of every iteration's batch, before its step.
  const std::vector<double>& losses() const { return losses_; }
  /// The training's wall time, the slowest rank's (after finish_training).
  double seconds() const { return seconds_; }

 private:
  MPI_Comm comm_;
  FlowPath path_;
  GaussianMixture data_;
  KacLaw law_;
  double horizon_;
  std::uint64_t seed_;
  std::int64_t iterations_, batch_;
  double learning_rate_;
  std::string model_path_;
  VelocityNetwork net_;
  std::vector<double> losses_;
  double seconds_ = 0;  ///< this rank's training time so far
  // This rank's share of a batch: first pair, count, and the pairs.
  std::int64_t first_ = 0, count_ = 0;
  std::vector<double> x_, t_, y_;
};

/// The variance-exploding flow's start at σ = √T: X_0 + √T ε, with X_0 the
/// forward particles' data points (the same draws as ForwardSampler) and ε
/// from the generative start stream, keyed by the particle id.
Ensemble variance_exploding_start(Ensemble units, const GaussianMixture& data, std::uint64_t seed, double horizon);

}  // namespace twinflow::kac
