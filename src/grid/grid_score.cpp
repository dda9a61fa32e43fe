#include "twinflow/grid/grid_score.hpp"

#include <algorithm>
#include <cmath>

namespace twinflow {

GridScore::GridScore(const Box& box, const std::vector<double>& density, double relative_floor)
    : box_(box) {
  const int d = box.dim;
  const double floor = relative_floor * *std::max_element(density.begin(), density.end());
  std::array<std::int64_t, 3> n{1, 1, 1}, stride{0, 0, 0};
  for (int a = 0; a < d; ++a) n[a] = box.cells[a];
  stride[d - 1] = 1;
  for (int a = d - 2; a >= 0; --a) stride[a] = stride[a + 1] * n[a + 1];
  for (int a = 0; a < d; ++a) {
    // Faces normal to a: n[a] − 1 along a, n[b] along the others; C order.
    std::array<std::int64_t, 3> m = n;
    m[a] -= 1;
    std::vector<double> f(static_cast<std::size_t>(m[0] * m[1] * m[2]));
    const double h = box.spacing(a);
    std::int64_t pos = 0;
    for (std::int64_t i = 0; i < m[0]; ++i)
      for (std::int64_t j = 0; j < m[1]; ++j)
        for (std::int64_t k = 0; k < m[2]; ++k, ++pos) {
          const std::int64_t idx[3] = {i, j, k};
          std::int64_t c = 0;
          for (int b = 0; b < d; ++b) c += idx[b] * stride[b];
          const double pl = density[c], pr = density[c + stride[a]];
          const double x_face = box.lower[a] + static_cast<double>(idx[a] + 1) * h;
          f[pos] = (pl > floor && pr > floor) ? std::log(pr / pl) / h : -x_face;
        }
    faces_.push_back(std::move(f));
  }
}

void GridScore::evaluate(const double* x, double* s) const {
  const int d = box_.dim;
  for (int a = 0; a < d; ++a) {
    if (!(x[a] >= box_.lower[a] && x[a] < box_.upper[a])) {
      for (int b = 0; b < d; ++b) s[b] = -x[b];
      return;
    }
  }
  for (int a = 0; a < d; ++a) {
    // Component a lives at face centres along a (offset h/2 from cell
    // centres) and at cell centres along the other axes.
    std::array<std::int64_t, 3> m{1, 1, 1};
    std::array<double, 3> first{0, 0, 0}, h{1, 1, 1};
    for (int b = 0; b < d; ++b) {
      m[b] = box_.cells[b] - (b == a ? 1 : 0);
      h[b] = box_.spacing(b);
      first[b] = box_.lower[b] + (b == a ? h[b] : 0.5 * h[b]);
    }
    s[a] = multilinear(d, m, first, h, faces_[a].data(), 1, 0, x);
  }
}

}  // namespace twinflow
