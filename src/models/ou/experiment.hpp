#pragma once
// The `ou` family: score diffusion on the Ornstein–Uhlenbeck semigroup.
#include "twinflow/models/experiment.hpp"

namespace twinflow::ou {

/// Registry entry of the family.
Family family();

}  // namespace twinflow::ou
