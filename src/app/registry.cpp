#include "registry.hpp"

#define TWINFLOW_FAMILY(name) \
  namespace twinflow::name {  \
  Family family();            \
  }
#include "families.def"
#undef TWINFLOW_FAMILY

namespace twinflow {

const std::vector<Family>& families() {
  static const std::vector<Family> all = {
#define TWINFLOW_FAMILY(name) name::family(),
#include "families.def"
#undef TWINFLOW_FAMILY
  };
  return all;
}

}  // namespace twinflow
