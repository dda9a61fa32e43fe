#include "toy_sets.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace twinflow::mfg {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Uniforms come from blocks 1, 2, ... of (id, 0), normals from block 0.
struct PointDraw {
  const CounterRng& rng;
  std::uint64_t id;
  std::uint64_t next_block = 1;
  double u() { return rng.uniform(id, 0, next_block++); }
  void normals(double* z, int n) const { rng.normals(id, 0, z, n); }
};

void swissroll(PointDraw& p, double* x) {  // make_swiss_roll(noise = 1)[:, [0, 2]] / 5
  const double t = 1.5 * kPi * (1 + 2 * p.u());
  double z[2];
  p.normals(z, 2);
  x[0] = (t * std::cos(t) + z[0]) / 5;
  x[1] = (t * std::sin(t) + z[1]) / 5;
}

void circles(PointDraw& p, double* x) {  // make_circles(factor = 0.5, noise = 0.08) * 3
  const double radius = p.u() <= 0.5 ? 1.0 : 0.5;
  const double angle = 2 * kPi * p.u();
  double z[2];
  p.normals(z, 2);
  x[0] = 3 * (radius * std::cos(angle) + 0.08 * z[0]);
  x[1] = 3 * (radius * std::sin(angle) + 0.08 * z[1]);
}

void rings(PointDraw& p, double* x) {  // four circles of radii 1, 3/4, 1/2, 1/4, times 3, noise 0.08
  const int ring = std::min(3, static_cast<int>(4 * (1 - p.u())));
  const double radius = 1.0 - 0.25 * ring;
  const double angle = 2 * kPi * p.u();
  double z[2];
  p.normals(z, 2);
  x[0] = 3 * radius * std::cos(angle) + 0.08 * z[0];
  x[1] = 3 * radius * std::sin(angle) + 0.08 * z[1];
}

void moons(PointDraw& p, double* x) {  // make_moons(noise = 0.1) * 2 + (−1, −0.2)
  const bool outer = p.u() <= 0.5;
  const double angle = kPi * p.u();
  double z[2];
  p.normals(z, 2);
  const double mx = outer ? std::cos(angle) : 1 - std::cos(angle);
  const double my = outer ? std::sin(angle) : 1 - std::sin(angle) - 0.5;
  x[0] = 2 * (mx + 0.1 * z[0]) - 1;
  x[1] = 2 * (my + 0.1 * z[1]) - 0.2;
}

void eight_gaussians(PointDraw& p, double* x) {  // (N(0, ¼ I) + 4 c_k) / 1.414, c_k on the unit circle
  const int k = std::min(7, static_cast<int>(8 * (1 - p.u())));
  const double angle = kPi / 4 * k;
  double z[2];
  p.normals(z, 2);
  x[0] = (0.5 * z[0] + 4 * std::cos(angle)) / 1.414;
  x[1] = (0.5 * z[1] + 4 * std::sin(angle)) / 1.414;
}

void pinwheel(PointDraw& p, double* x) {  // 5 arms, radial s.d. 0.3, tangential 0.1, rate 0.25, times 2
  const int arm = std::min(4, static_cast<int>(5 * (1 - p.u())));
  double z[2];
  p.normals(z, 2);
  const double f0 = 0.3 * z[0] + 1, f1 = 0.1 * z[1];
  const double angle = 2 * kPi / 5 * arm + 0.25 * std::exp(f0);
  x[0] = 2 * (f0 * std::cos(angle) + f1 * std::sin(angle));
  x[1] = 2 * (-f0 * std::sin(angle) + f1 * std::cos(angle));
}

void two_spirals(PointDraw& p, double* x) {  // n = √U · 3π, two arms, /3, noise 0.1
  const double n = std::sqrt(p.u()) * 540 * (2 * kPi) / 360;
  const double sign = p.u() <= 0.5 ? 1.0 : -1.0;
  const double dx = -std::cos(n) * n + 0.5 * p.u();
  const double dy = std::sin(n) * n + 0.5 * p.u();
  double z[2];
  p.normals(z, 2);
  x[0] = sign * dx / 3 + 0.1 * z[0];
  x[1] = sign * dy / 3 + 0.1 * z[1];
}

void checkerboard(PointDraw& p, double* x) {  // 8 squares of side 2 on [−4, 4]²
  const double x1 = 4 * p.u() - 2;
  const double x2 = p.u() - (p.u() <= 0.5 ? 0.0 : 2.0) + std::fmod(std::floor(x1) + 4, 2.0);
  x[0] = 2 * x1;
  x[1] = 2 * x2;
}

struct ToySet {
  const char* name;
  void (*draw)(PointDraw&, double*);
};
constexpr ToySet kSets[] = {{"8gaussians", eight_gaussians}, {"checkerboard", checkerboard},
                            {"2spirals", two_spirals},      {"swissroll", swissroll},
                            {"moons", moons},               {"pinwheel", pinwheel},
                            {"circles", circles},           {"rings", rings}};

}  // namespace

const std::vector<std::string>& toy_set_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const ToySet& s : kSets) n.emplace_back(s.name);
    return n;
  }();
  return names;
}

bool is_toy_set(const std::string& name) {
  const auto& n = toy_set_names();
  return std::find(n.begin(), n.end(), name) != n.end();
}

void draw_toy_point(const std::string& name, const CounterRng& rng, std::uint64_t id, double* x) {
  for (const ToySet& s : kSets)
    if (name == s.name) {
      PointDraw p{rng, id};
      s.draw(p, x);
      return;
    }
  throw std::invalid_argument("unknown toy data set '" + name + "'");
}

}  // namespace twinflow::mfg
