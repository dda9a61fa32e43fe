// Config parsing and validation: every rejection names its key.
#include <gtest/gtest.h>

#include <fstream>

#include "app/driver.hpp"
#include "app/registry.hpp"
#include "twinflow/math/gaussian_mixture.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"

using namespace twinflow;

namespace {
std::string rejected_key(const std::vector<std::string>& overrides, const std::string& path = "") {
  const OptionSet o = all_options(families());
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
  const OptionSet o = all_options(families());
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
  const OptionSet o = all_options(families());
  const Config c = Config::parse(o, path, {"--ou.steps=50"});
  EXPECT_EQ(c.integer("seed"), 5);
  EXPECT_EQ(c.integer("ou.steps"), 50);
  EXPECT_EQ(c.choice("ou.scheme"), "em");
  EXPECT_EQ(c.real("time.end"), 2.0);
  // The resolved INI parses back to the same values.
  const std::string again = testing::TempDir() + "/twinflow_resolved.ini";
  std::ofstream(again) << c.resolved_ini("ou");
  const Config d = Config::parse(o, again, {});
  EXPECT_EQ(d.integer("ou.steps"), 50);
  EXPECT_EQ(d.text("ou.target"), c.text("ou.target"));
  // Keys without a section come before every [section] header, whatever
  // the order they were declared in.
  const std::string ini = c.resolved_ini("ou");
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
  const OptionSet o = all_options(families());
  const auto a = split_run_arguments({"c.ini", "--ou.steps=3", "-ts_type", "beuler", "-ts_monitor", "-ts_dt", "-1e-3", "--quiet"}, o);
  EXPECT_EQ(a.config_path, "c.ini");
  EXPECT_EQ(a.overrides, (std::vector<std::string>{"--ou.steps=3", "--quiet"}));
  EXPECT_EQ(a.petsc, (std::vector<std::string>{"-ts_type", "beuler", "-ts_monitor", "-ts_dt", "-1e-3"}));
  EXPECT_THROW(split_run_arguments({"a.ini", "b.ini"}, o), UsageError);
}

TEST(Config, ValueAfterASpaceBelongsToItsKey) {
  // `--ou.steps 50` is `--ou.steps=50`, not a config file named 50; a
  // boolean takes the next token only when it is a boolean.
  const OptionSet o = all_options(families());
  const auto a = split_run_arguments({"--ou.steps", "50", "--quiet", "run.ini", "--overwrite", "false"}, o);
  EXPECT_EQ(a.overrides, (std::vector<std::string>{"--ou.steps=50", "--quiet", "--overwrite=false"}));
  EXPECT_EQ(a.config_path, "run.ini");
}

TEST(Config, UnknownKeysNameTheNearestKnownOne) {
  const OptionSet o = all_options(families());
  try {
    Config::parse(o, "", {"--ou.step=3"});
    FAIL() << "an unknown key was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'ou.steps'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(o.nearest("partciles.count"), "particles.count");
  EXPECT_EQ(o.nearest("completely.different"), "");
}

TEST(Config, GeneralSectionAndFamilySections) {
  // A [general] section is what --help shows and what the resolved INI
  // writes; it reads back. Another family's keys are refused.
  const std::string path = testing::TempDir() + "/twinflow_general.ini";
  std::ofstream(path) << "[general]\nfamily = kac\nseed = 7\n[kac]\na = 4\n";
  const OptionSet o = all_options(families());
  const Config c = Config::parse(o, path, {});
  EXPECT_EQ(c.choice("family"), "kac");
  EXPECT_EQ(c.integer("seed"), 7);
  EXPECT_EQ(c.real("kac.a"), 4.0);
  EXPECT_NO_THROW(c.check_family("kac"));
  const std::string ini = c.resolved_ini("kac");
  EXPECT_EQ(ini.rfind("[general]\n", 0), 0u);
  EXPECT_NE(ini.find("[kac]"), std::string::npos);
  EXPECT_EQ(ini.find("[ou]"), std::string::npos);
  EXPECT_EQ(ini.find("[kinetic]"), std::string::npos);
  const Config mixed = Config::parse(o, "", {"--family=ou", "--kac.a=3"});
  try {
    mixed.check_family("ou");
    FAIL() << "a key of family kac was accepted in a run of family ou";
  } catch (const UsageError& e) {
    EXPECT_EQ(e.key(), "kac.a");
  }
}

TEST(Config, WeightsWithFewDigitsAreRenormalised) {
  std::string nine;
  for (int i = 0; i < 9; ++i) nine += (i ? ";" : "") + std::string("0.11111111:") + std::to_string(i) + ":1";
  const GaussianMixture m = GaussianMixture::parse("ou.target", nine, 1);
  double total = 0;
  for (const auto& c : m.components()) total += c.weight;
  EXPECT_NEAR(total, 1.0, 1e-15);
  try {
    GaussianMixture::parse("ou.target", "0.5:0:1;0.4:1:1", 1);
    FAIL() << "weights summing to 0.9 were accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("within 1e-6"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("0.9"), std::string::npos) << e.what();
  }
}
