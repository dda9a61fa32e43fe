#include "registry.hpp"

#include "models/kac/experiment.hpp"
#include "models/kinetic/experiment.hpp"
#include "models/ou/experiment.hpp"

namespace twinflow {

const std::vector<Family>& families() {
  static const std::vector<Family> all = {
      ou::family(),
      kac::family(),
      kinetic::family(),
  };
  return all;
}

}  // namespace twinflow
