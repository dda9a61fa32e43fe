// Config parsing and validation: every rejection names its key.
#include <gtest/gtest.h>

#include <fstream>

#include "app/driver.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"

using namespace twinflow;

namespace {
std::string rejected_key(const std::vector<std::string>& overrides, const std::string& path = "") {
  const OptionSet o = all_options();
  try {
    const Config c = Config::parse(o, path, overrides);
    c.integer("ou.steps");
    c.real("time.end");
    c.integer_list("grid.cells", 1);
    c.choice("ou.scheme");
    c.boolean("overwrite");
  } catch (const UsageError& e) {
    return e.key();
  }
  return "";
}
}  // namespace

TEST(Config, DefaultsAndOverrides) {
  const OptionSet o = all_options();
  const Config c = Config::parse(o, "", {"--ou.steps=17", "--overwrite", "--grid.cells", "32"});
  EXPECT_EQ(c.integer("ou.steps"), 17);
  EXPECT_TRUE(c.boolean("overwrite"));
  EXPECT_EQ(c.integer_list("grid.cells", 2), (std::vector<std::int64_t>{32, 32}));
  EXPECT_EQ(c.real("time.end"), 1.0);
  EXPECT_FALSE(c.given("time.end"));
}

TEST(Config, IniSectionsAndCommandLinePrecedence) {
  const std::string path = testing::TempDir() + "/twinflow_test.ini";
  std::ofstream(path) << "seed = 5\n[ou]\nsteps = 40\nscheme = em\n[time]\nend = 2\n";
  const OptionSet o = all_options();
  const Config c = Config::parse(o, path, {"--ou.steps=50"});
  EXPECT_EQ(c.integer("seed"), 5);
  EXPECT_EQ(c.integer("ou.steps"), 50);
  EXPECT_EQ(c.choice("ou.scheme"), "em");
  EXPECT_EQ(c.real("time.end"), 2.0);
  // The resolved INI parses back to the same values.
  const std::string again = testing::TempDir() + "/twinflow_resolved.ini";
  std::ofstream(again) << c.resolved_ini();
  const Config d = Config::parse(o, again, {});
  EXPECT_EQ(d.integer("ou.steps"), 50);
  EXPECT_EQ(d.text("ou.target"), c.text("ou.target"));
  // Keys without a section come before every [section] header, whatever
  // the order they were declared in.
  const std::string ini = c.resolved_ini();
  EXPECT_LT(ini.find("sampler_law = "), ini.find("\n["));
}

TEST(Config, RejectionsNameTheKey) {
  EXPECT_EQ(rejected_key({"--ou.stepz=3"}), "ou.stepz");
  EXPECT_EQ(rejected_key({"--ou.steps=0"}), "ou.steps");
  EXPECT_EQ(rejected_key({"--ou.steps=1.5"}), "ou.steps");
  EXPECT_EQ(rejected_key({"--time.end=abc"}), "time.end");
  EXPECT_EQ(rejected_key({"--time.end=0"}), "time.end");
  EXPECT_EQ(rejected_key({"--grid.cells=0"}), "grid.cells");
  EXPECT_EQ(rejected_key({"--ou.scheme=rk4"}), "ou.scheme");
  EXPECT_EQ(rejected_key({"--overwrite=maybe"}), "overwrite");
  EXPECT_EQ(rejected_key({}, "/nonexistent/file.ini"), "config");
}

TEST(Config, RunArgumentsSplitPetscTokens) {
  const auto a = split_run_arguments({"c.ini", "--ou.steps=3", "-ts_type", "beuler", "-ts_monitor", "-ts_dt", "-1e-3", "--quiet"});
  EXPECT_EQ(a.config_path, "c.ini");
  EXPECT_EQ(a.overrides, (std::vector<std::string>{"--ou.steps=3", "--quiet"}));
  EXPECT_EQ(a.petsc, (std::vector<std::string>{"-ts_type", "beuler", "-ts_monitor", "-ts_dt", "-1e-3"}));
  EXPECT_THROW(split_run_arguments({"a.ini", "b.ini"}), UsageError);
}
