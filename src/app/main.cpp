// twinflow: the command line over the registered families (cli.cpp).
#include "cli.hpp"
#include "registry.hpp"

int main(int argc, char** argv) { return twinflow::cli_main(argc, argv, twinflow::families()); }
