#pragma once
// The model families twinflow knows, by name (src/app/families.def).
#include <vector>

#include "twinflow/models/experiment.hpp"

namespace twinflow {

const std::vector<Family>& families();

}  // namespace twinflow
