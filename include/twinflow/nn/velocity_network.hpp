#pragma once
// A neural velocity field v_θ(x, t): R^d × R → R^d, the multilayer
// perceptron of flow matching (docs/kac.md, "The Kac flow with a
// trained velocity"): input
// (x, t), `depth` hidden layers of `width` units with the SiLU activation
// x σ(x), a linear output; double precision, one intra-op thread per rank
// (libtorch). The initial weights are a function of the seed alone (PyTorch's
// default for a linear layer, uniform on ±1/√fan_in, drawn from the
// counter-based RNG), so a network is the same on every rank.
//
// Training is data-parallel: each rank holds its share of a global batch of
// B regression pairs, and one allreduce per step adds the shares' gradients
// (and losses) of the mean squared error (1/B) Σ_i |v_θ(x_i, t_i) − y_i|²
// before every rank takes the same Adam step. The result is deterministic
// for a given rank count (the sum's order follows the partition).
#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace twinflow {

class VelocityNetwork {
 public:
  struct Shape {
    int dim = 1, width = 256, depth = 3;
    bool operator==(const Shape&) const = default;
  };
  /// Not collective. The network at its initial weights, with an Adam
  /// optimiser of learning rate `learning_rate`.
  VelocityNetwork(Shape shape, std::uint64_t seed, double learning_rate);
  ~VelocityNetwork();
  VelocityNetwork(const VelocityNetwork&) = delete;
  VelocityNetwork& operator=(const VelocityNetwork&) = delete;

  const Shape& shape() const { return shape_; }
  /// Number of weights and biases of a network of this shape.
  static std::int64_t parameter_count(const Shape& shape);
  std::int64_t parameter_count() const { return parameter_count(shape_); }
  /// The most parameters a network may have: its gradient (and the loss)
  /// travel in one MPI message of int-counted doubles.
  static constexpr std::int64_t kMaxParameters = (std::int64_t{1} << 31) - 2;

  /// v_θ(x_i, t) at n points x (point-major, dim entries each) into v. Not
  /// collective.
  void evaluate(double t, const double* x, std::int64_t n, double* v) const;

  /// Collective. The loss (1/B) Σ |v_θ(x_i, t_i) − y_i|² of a global batch of
  /// `batch` pairs, `count` of them on this rank (x and y point-major, t one
  /// per point), and its gradient in the parameters (parameters() layout),
  /// summed over the ranks with one allreduce. Same values on every rank.
  double loss_gradient(MPI_Comm comm, const double* x, const double* t, const double* y, std::int64_t count,
                       std::int64_t batch, std::vector<double>& gradient);
  /// Collective. One Adam step on that loss; returns the loss before it.
  double train_step(MPI_Comm comm, const double* x, const double* t, const double* y, std::int64_t count,
                    std::int64_t batch);

  /// Every weight and bias, layer by layer (weights row-major [out, in],
  /// then the bias).
  std::vector<double> parameters() const;
  void set_parameters(const std::vector<double>& values);
  /// Adam's state: its step count, then every parameter's first and then
  /// every parameter's second moment estimate (parameters() layout), so that
  /// a restored network continues with bit-identical steps.
  std::vector<double> optimiser_state() const;
  void set_optimiser_state(const std::vector<double>& state);

  /// Not collective. Writes the network as a TorchScript module
  /// (`torch.jit.load(path)(x, t)` in Python: x of shape [n, dim], t of n or
  /// one entries, both float64), with the attributes dim, width, depth and
  /// `flow`, the caller's words for the flow whose velocity it is.
  void save(const std::string& path, const std::string& flow) const;
  /// A network read back from save()'s file.
  struct Saved {
    Shape shape;
    std::vector<double> parameters;
    std::string flow;
  };
  /// Not collective. Reads a file written by save(); std::runtime_error
  /// saying why when the file is missing, not a TorchScript archive, or not
  /// a network of this kind.
  static Saved load(const std::string& path);

 private:
  struct Impl;
  Shape shape_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace twinflow
