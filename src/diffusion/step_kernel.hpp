#pragma once
// The per-block arithmetic of the fixed-step samplers, in its own
// translation unit so that it alone (with the score kernel) is compiled for
// the host's vector unit; it must not include Eigen, whose allocation
// alignment depends on the instruction set. Points are stored by coordinate
// in blocks of MixtureScore::kBlock lanes.
namespace twinflow {

/// out = M y + G s (n × n row-major M and G).
void affine_block(int n, const double* m, const double* g, const double* y, const double* s, double* out);
/// out += L z (n × n lower-triangular row-major L).
void add_lower_block(int n, const double* l, const double* z, double* out);

}  // namespace twinflow
