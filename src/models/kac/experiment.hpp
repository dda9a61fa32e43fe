#pragma once
// The `kac` family: telegrapher's equation, Kac processes and Kac flows.
#include "twinflow/models/experiment.hpp"

namespace twinflow::kac {

/// Registry entry of the family.
Family family();

/// Half-width, in cells, of the windows around the atoms' fronts whose mass
/// the family reports (PDE, particles, closed form): wide enough for the
/// limited scheme's smearing of a front.
constexpr int kFrontWindowCells = 4;

}  // namespace twinflow::kac
