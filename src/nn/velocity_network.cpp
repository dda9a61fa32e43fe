#include "twinflow/nn/velocity_network.hpp"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

#include "twinflow/rng/counter_rng.hpp"

namespace twinflow {

struct VelocityNetwork::Impl {
  std::vector<torch::Tensor> weights, biases;  ///< per layer: [out, in] and [out]
  std::unique_ptr<torch::optim::Adam> adam;

  std::vector<torch::Tensor> all() const {
    std::vector<torch::Tensor> p;
    for (std::size_t l = 0; l < weights.size(); ++l) {
      p.push_back(weights[l]);
      p.push_back(biases[l]);
    }
    return p;
  }

  torch::Tensor forward(torch::Tensor h) const {
    for (std::size_t l = 0; l < weights.size(); ++l) {
      h = torch::addmm(biases[l], h, weights[l].t());
      if (l + 1 < weights.size()) h = torch::silu(h);
    }
    return h;
  }
};

namespace {

// Rows a network evaluation is padded to a multiple of. libtorch's
// element-wise kernels (the SiLU) take all but the last numel mod 2·(vector
// width) entries in vector form and those in scalar form, which may differ
// in the last bit; with every tensor's rows a multiple of 16 no entry is
// left over (AVX2 and AVX-512), whatever the width, so a point's velocity
// does not depend on its batch.
constexpr std::int64_t kRowMultiple = 16;

torch::Tensor copy_of(const double* values, std::int64_t rows, std::int64_t columns) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat64);
  return torch::from_blob(const_cast<double*>(values), {rows, columns}, options).clone();
}

// The network's input rows (x_i, t_i), then zero rows up to `rows` ≥ n.
torch::Tensor inputs(const double* x, const double* t, double t_all, std::int64_t n, int d, std::int64_t rows) {
  torch::Tensor in = torch::zeros({rows, d + 1}, torch::TensorOptions().dtype(torch::kFloat64));
  double* p = in.data_ptr<double>();
  for (std::int64_t i = 0; i < n; ++i) {
    for (int a = 0; a < d; ++a) p[i * (d + 1) + a] = x[i * d + a];
    p[i * (d + 1) + d] = t ? t[i] : t_all;
  }
  return in;
}

}  // namespace

VelocityNetwork::VelocityNetwork(Shape shape, std::uint64_t seed, double learning_rate)
    : shape_(shape), impl_(std::make_unique<Impl>()) {
  if (shape.dim < 1 || shape.width < 1 || shape.depth < 1)
    throw std::invalid_argument("VelocityNetwork: dim, width and depth must be at least 1");
  if (parameter_count(shape) > kMaxParameters)
    throw std::invalid_argument("VelocityNetwork: more than " + std::to_string(kMaxParameters) + " parameters");
  torch::set_num_threads(1);
  const CounterRng rng(seed, Stream::kNetworkWeights);
  for (int l = 0; l <= shape.depth; ++l) {
    const std::int64_t in = l == 0 ? shape.dim + 1 : shape.width, out = l == shape.depth ? shape.dim : shape.width;
    const double bound = 1 / std::sqrt(static_cast<double>(in));
    std::vector<double> w(static_cast<std::size_t>(out * in)), b(static_cast<std::size_t>(out));
    // Entry e of layer l's weights is draw (e, l, 0), of its bias (e, l, 1).
    for (std::size_t e = 0; e < w.size(); ++e) w[e] = bound * (2 * rng.uniform(e, static_cast<std::uint64_t>(l), 0) - 1);
    for (std::size_t e = 0; e < b.size(); ++e) b[e] = bound * (2 * rng.uniform(e, static_cast<std::uint64_t>(l), 1) - 1);
    impl_->weights.push_back(copy_of(w.data(), out, in).requires_grad_(true));
    impl_->biases.push_back(copy_of(b.data(), 1, out).reshape({out}).requires_grad_(true));
  }
  impl_->adam = std::make_unique<torch::optim::Adam>(impl_->all(), torch::optim::AdamOptions(learning_rate));
}

VelocityNetwork::~VelocityNetwork() = default;

std::int64_t VelocityNetwork::parameter_count(const Shape& s) {
  const std::int64_t d = s.dim, w = s.width;
  return (d + 1) * w + w + (s.depth - 1) * (w * w + w) + w * d + d;
}

void VelocityNetwork::evaluate(double t, const double* x, std::int64_t n, double* v) const {
  if (n == 0) return;
  const torch::NoGradGuard no_grad;
  const std::int64_t rows = (n + kRowMultiple - 1) / kRowMultiple * kRowMultiple;
  const torch::Tensor out = impl_->forward(inputs(x, nullptr, t, n, shape_.dim, rows)).contiguous();
  std::copy(out.data_ptr<double>(), out.data_ptr<double>() + n * shape_.dim, v);
}

double VelocityNetwork::loss_gradient(MPI_Comm comm, const double* x, const double* t, const double* y,
                                      std::int64_t count, std::int64_t batch, std::vector<double>& gradient) {
  const int d = shape_.dim;
  for (torch::Tensor& p : impl_->all()) p.mutable_grad() = torch::zeros_like(p);
  // This rank's share of the mean: its squared errors over the global B.
  double local = 0;
  if (count > 0) {
    const torch::Tensor error = impl_->forward(inputs(x, t, 0, count, d, count)) - copy_of(y, count, d);
    const torch::Tensor loss = error.square().sum() / static_cast<double>(batch);
    loss.backward();
    local = loss.item<double>();
  }
  // One allreduce: every gradient, then the loss.
  gradient.clear();
  for (const torch::Tensor& p : impl_->all()) {
    const torch::Tensor g = p.grad().contiguous();
    gradient.insert(gradient.end(), g.data_ptr<double>(), g.data_ptr<double>() + g.numel());
  }
  gradient.push_back(local);
  MPI_Allreduce(MPI_IN_PLACE, gradient.data(), static_cast<int>(gradient.size()), MPI_DOUBLE, MPI_SUM, comm);
  const double value = gradient.back();
  gradient.pop_back();
  return value;
}

double VelocityNetwork::train_step(MPI_Comm comm, const double* x, const double* t, const double* y,
                                   std::int64_t count, std::int64_t batch) {
  std::vector<double> gradient;
  const double value = loss_gradient(comm, x, t, y, count, batch, gradient);
  std::size_t at = 0;
  for (torch::Tensor& p : impl_->all()) {
    p.mutable_grad() = copy_of(gradient.data() + at, 1, p.numel()).reshape(p.sizes());
    at += static_cast<std::size_t>(p.numel());
  }
  impl_->adam->step();
  return value;
}

std::vector<double> VelocityNetwork::parameters() const {
  std::vector<double> values;
  for (const torch::Tensor& p : impl_->all()) {
    const torch::Tensor c = p.detach().contiguous();
    values.insert(values.end(), c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  }
  return values;
}

void VelocityNetwork::set_parameters(const std::vector<double>& values) {
  if (static_cast<std::int64_t>(values.size()) != parameter_count())
    throw std::invalid_argument("VelocityNetwork::set_parameters: " + std::to_string(values.size()) +
                                " values for " + std::to_string(parameter_count()) + " parameters");
  const torch::NoGradGuard no_grad;
  std::size_t at = 0;
  for (torch::Tensor& p : impl_->all()) {
    p.copy_(copy_of(values.data() + at, 1, p.numel()).reshape(p.sizes()));
    at += static_cast<std::size_t>(p.numel());
  }
}

}  // namespace twinflow
