#include "twinflow/run/stage.hpp"

#include <stdexcept>

namespace twinflow {

const StateSpace& RunSetup::space(const std::string& name) const {
  for (const StateSpace* s : spaces)
    if (s->name() == name) return *s;
  throw std::logic_error("this run has no state space '" + name + "'");
}

bool RunSetup::has_space(const std::string& name) const {
  for (const StateSpace* s : spaces)
    if (s->name() == name) return true;
  return false;
}

}  // namespace twinflow
