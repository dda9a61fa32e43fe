#include "twinflow/nn/velocity_network.hpp"

#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <sstream>
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

// The format attribute of a saved network (save()), checked on load.
constexpr const char* kSavedFormat = "twinflow velocity network, version 1";

std::string layer_name(const char* kind, std::size_t l) { return std::string(kind) + "_" + std::to_string(l); }

// TorchScript source of the forward pass of a network with `layers` linear
// layers (the same operations as Impl::forward).
std::string forward_source(std::size_t layers) {
  std::ostringstream s;
  s << "def forward(self, x: Tensor, t: Tensor) -> Tensor:\n"
    << "    h = torch.cat([x, t.reshape([-1, 1]).expand([x.size(0), 1])], 1)\n";
  for (std::size_t l = 0; l < layers; ++l) {
    s << "    h = torch.addmm(self." << layer_name("bias", l) << ", h, self." << layer_name("weight", l) << ".t())\n";
    if (l + 1 < layers) s << "    h = torch.silu(h)\n";
  }
  s << "    return h\n";
  return s.str();
}

// Adam's state of parameter p (libtorch keys it by the tensor's address).
std::string adam_key(const torch::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

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

std::vector<double> VelocityNetwork::optimiser_state() const {
  const std::vector<torch::Tensor> params = impl_->all();
  const auto count = static_cast<std::size_t>(parameter_count());
  std::vector<double> state(1 + 2 * count, 0.0);
  std::size_t at = 1;
  for (const torch::Tensor& p : params) {
    const auto found = impl_->adam->state().find(adam_key(p));
    if (found != impl_->adam->state().end()) {
      const auto& s = static_cast<const torch::optim::AdamParamState&>(*found->second);
      state[0] = static_cast<double>(s.step());
      const torch::Tensor m = s.exp_avg().contiguous(), v = s.exp_avg_sq().contiguous();
      std::copy(m.data_ptr<double>(), m.data_ptr<double>() + m.numel(),
                state.begin() + static_cast<std::ptrdiff_t>(at));
      std::copy(v.data_ptr<double>(), v.data_ptr<double>() + v.numel(),
                state.begin() + static_cast<std::ptrdiff_t>(at + count));
    }
    at += static_cast<std::size_t>(p.numel());
  }
  return state;
}

void VelocityNetwork::set_optimiser_state(const std::vector<double>& state) {
  const auto count = static_cast<std::size_t>(parameter_count());
  if (state.size() != 1 + 2 * count)
    throw std::invalid_argument("VelocityNetwork::set_optimiser_state: " + std::to_string(state.size()) +
                                " values for " + std::to_string(1 + 2 * count));
  impl_->adam->state().clear();
  const auto steps = static_cast<std::int64_t>(state[0]);
  if (steps == 0) return;  // no step taken: Adam creates its state at the first
  std::size_t at = 1;
  for (const torch::Tensor& p : impl_->all()) {
    auto s = std::make_unique<torch::optim::AdamParamState>();
    s->step(steps);
    s->exp_avg(copy_of(state.data() + at, 1, p.numel()).reshape(p.sizes()));
    s->exp_avg_sq(copy_of(state.data() + at + count, 1, p.numel()).reshape(p.sizes()));
    impl_->adam->state()[adam_key(p)] = std::move(s);
    at += static_cast<std::size_t>(p.numel());
  }
}

void VelocityNetwork::save(const std::string& path, const std::string& flow) const {
  torch::jit::Module m("__torch__.twinflow.VelocityField");
  m.register_attribute("format", c10::StringType::get(), std::string(kSavedFormat));
  m.register_attribute("dim", c10::IntType::get(), static_cast<std::int64_t>(shape_.dim));
  m.register_attribute("width", c10::IntType::get(), static_cast<std::int64_t>(shape_.width));
  m.register_attribute("depth", c10::IntType::get(), static_cast<std::int64_t>(shape_.depth));
  m.register_attribute("flow", c10::StringType::get(), flow);
  for (std::size_t l = 0; l < impl_->weights.size(); ++l) {
    m.register_parameter(layer_name("weight", l), impl_->weights[l].detach().clone(), false);
    m.register_parameter(layer_name("bias", l), impl_->biases[l].detach().clone(), false);
  }
  m.define(forward_source(impl_->weights.size()));
  m.save(path);
}

VelocityNetwork::Saved VelocityNetwork::load(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw std::runtime_error("no such file");
  torch::jit::Module m;
  try {
    m = torch::jit::load(path);
  } catch (const c10::Error&) {
    throw std::runtime_error("not a TorchScript archive (torch.jit.save)");
  }
  const auto integer = [&](const char* name) {
    if (!m.hasattr(name) || !m.attr(name).isInt())
      throw std::runtime_error(std::string("a TorchScript module without the integer attribute '") + name +
                               "' of a saved twinflow velocity network");
    return m.attr(name).toInt();
  };
  if (!m.hasattr("format") || !m.attr("format").isString() || m.attr("format").toStringRef() != kSavedFormat)
    throw std::runtime_error(std::string("a TorchScript module that is not a twinflow velocity network (format '") +
                             kSavedFormat + "')");
  Saved saved;
  saved.shape = {static_cast<int>(integer("dim")), static_cast<int>(integer("width")),
                 static_cast<int>(integer("depth"))};
  if (!m.hasattr("flow") || !m.attr("flow").isString())
    throw std::runtime_error("a TorchScript module without the string attribute 'flow' of a saved twinflow "
                             "velocity network");
  saved.flow = m.attr("flow").toStringRef();
  const Shape& s = saved.shape;
  if (s.dim < 1 || s.width < 1 || s.depth < 1 || parameter_count(s) > kMaxParameters)
    throw std::runtime_error("a network of impossible shape");
  for (int l = 0; l <= s.depth; ++l) {
    const std::int64_t in = l == 0 ? s.dim + 1 : s.width, out = l == s.depth ? s.dim : s.width;
    for (const auto& [kind, shape] : {std::pair{"weight", std::vector<std::int64_t>{out, in}},
                                      std::pair{"bias", std::vector<std::int64_t>{out}}}) {
      const std::string name = layer_name(kind, static_cast<std::size_t>(l));
      if (!m.hasattr(name) || !m.attr(name).isTensor())
        throw std::runtime_error("a network without its parameter '" + name + "'");
      const torch::Tensor p = m.attr(name).toTensor();
      if (p.sizes() != c10::IntArrayRef(shape) || p.scalar_type() != torch::kFloat64)
        throw std::runtime_error("a network whose parameter '" + name + "' is not float64 of the network's shape");
      const torch::Tensor c = p.contiguous();
      saved.parameters.insert(saved.parameters.end(), c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
    }
  }
  return saved;
}

}  // namespace twinflow
