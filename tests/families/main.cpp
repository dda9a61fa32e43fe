// twinflow with the test-only families added: the same command line, the
// same driver, the production families and those of families.hpp.
#include "app/cli.hpp"
#include "app/registry.hpp"
#include "families.hpp"

int main(int argc, char** argv) {
  std::vector<twinflow::Family> all = twinflow::families();
  all.push_back(twinflow::heat::family());
  all.push_back(twinflow::faulty::family());
  return twinflow::cli_main(argc, argv, all);
}
