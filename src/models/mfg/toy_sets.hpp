#pragma once
// The usual 2-D toy data sets of the generative-modelling literature, from
// the definitions of FFJORD's lib/toy_data.py (Grathwohl et al., ICLR 2019),
// which also wrap scikit-learn's make_swiss_roll, make_circles and
// make_moons. Point `id` is a function of (seed, id) alone (counter RNG),
// so a data set does not depend on the rank count. Where the reference
// spaces points evenly on a curve (linspace), a point here takes a uniform
// position on it: the same law as the number of points grows. Not collective.
#include <cstdint>
#include <string>
#include <vector>

#include "twinflow/rng/counter_rng.hpp"

namespace twinflow::mfg {

/// The names `mfg.data=toy:NAME` accepts.
const std::vector<std::string>& toy_set_names();
/// True when `name` is one of them.
bool is_toy_set(const std::string& name);
/// Point `id` of the named set into x[0..1] (std::invalid_argument for an unknown name).
void draw_toy_point(const std::string& name, const CounterRng& rng, std::uint64_t id, double* x);

}  // namespace twinflow::mfg
