#pragma once
// Families that exist for the tests only: linked into the test binary
// twinflow-test-families (main.cpp here), never into twinflow itself.
#include "twinflow/models/experiment.hpp"

namespace twinflow {
namespace heat {
/// Brownian motion and the heat equation: the minimal family of the README.
Family family();
}  // namespace heat
namespace faulty {
/// Fails on purpose on one rank, for the reliability tests.
Family family();
}  // namespace faulty
}  // namespace twinflow
