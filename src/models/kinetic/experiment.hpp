#pragma once
// The `kinetic` family: the kinetic (underdamped) OU process in phase space
// (x, v) and its reverse samplers (MATH.md §2).
#include "twinflow/models/experiment.hpp"

namespace twinflow::kinetic {

/// Registry entry of the family.
Family family();

}  // namespace twinflow::kinetic
