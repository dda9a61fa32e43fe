#pragma once
// The run configuration: every key is declared once with its default, its
// help text and what it accepts; values come from an INI file and from
// --key=value overrides (Boost.Program_options), command line first.
// Typed getters validate against the declaration and throw UsageError with
// the key name and the accepted range. Nothing here is collective.
#include <boost/program_options.hpp>

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace twinflow {

/// What a key accepts; also renders itself for --help and error messages.
struct Accept {
  enum class Kind { kInteger, kReal, kBoolean, kChoice, kText, kRealList, kIntegerList };
  Kind kind = Kind::kText;
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;  ///< lo itself excluded (e.g. T > 0)
  std::vector<std::string> choices;
  std::string text;  ///< free-form description for kText

  static Accept integer(double lo, double hi = std::numeric_limits<double>::infinity());
  static Accept real(double lo, double hi = std::numeric_limits<double>::infinity(),
                     bool lo_open = false);
  static Accept positive_real() { return real(0.0, std::numeric_limits<double>::infinity(), true); }
  static Accept boolean();
  static Accept choice(std::vector<std::string> choices);
  static Accept any_text(std::string description);
  static Accept real_list();
  static Accept integer_list(double lo);
  std::string describe() const;
};

/// Declarations of keys, grouped in sections (the INI sections). Keys
/// without a dot are the [general] section.
class OptionSet {
 public:
  struct Key {
    std::string name, default_value, help;
    Accept accept;
    std::string family;  ///< the family that declared it; empty for the platform's keys
  };
  void add(const std::string& name, const std::string& default_value, const std::string& help,
           Accept accept);
  /// Keys added from now on belong to this family ("" for the platform).
  void set_family(const std::string& family) { family_ = family; }
  const std::vector<Key>& keys() const { return keys_; }
  const Key* find(const std::string& name) const;
  /// The declared key nearest to a misspelt one (edit distance), or "".
  std::string nearest(const std::string& name) const;
  /// Help listing: key, default, accepted values, description.
  std::string help_text() const;

 private:
  std::vector<Key> keys_;
  std::string family_;
};

/// Resolved configuration of one run.
class Config {
 public:
  /// Parses an optional INI file and --key=value tokens. Throws UsageError for
  /// unknown keys (naming the nearest known one), a missing or unreadable
  /// file, or a malformed line. The INI file's keys without a dot may stand
  /// before any section or in a [general] section.
  static Config parse(const OptionSet& options, const std::string& config_path,
                      const std::vector<std::string>& overrides);

  std::string text(const std::string& key) const;
  std::int64_t integer(const std::string& key) const;
  double real(const std::string& key) const;
  bool boolean(const std::string& key) const;
  /// A kChoice key: returns the chosen value, validated.
  std::string choice(const std::string& key) const;
  /// A comma list with `count` entries, or one entry broadcast to all.
  std::vector<double> real_list(const std::string& key, std::size_t count) const;
  /// A comma list of one or more entries.
  std::vector<double> real_list(const std::string& key) const;
  std::vector<std::int64_t> integer_list(const std::string& key, std::size_t count) const;
  /// True when the user set the key (file or command line).
  bool given(const std::string& key) const;
  /// Replaces a declared key's default (a family's own default for a
  /// platform key); a value the user set stays.
  void set_default(const std::string& key, const std::string& value);

  /// Throws UsageError for a key set for another family than `family`.
  void check_family(const std::string& family) const;
  /// The resolved configuration of a run of `family` as INI text: the
  /// platform's keys (those without a dot under [general]) and the family's
  /// section, defaults included. Readable back by twinflow and by Python's
  /// configparser.
  std::string resolved_ini(const std::string& family) const;

 private:
  const OptionSet::Key& declared(const std::string& key) const;
  const OptionSet* options_ = nullptr;
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> given_;
};

/// Parses a real number in full; throws UsageError(key, ...) otherwise.
double parse_real(const std::string& key, const std::string& token, const std::string& accepted);
/// Splits on a separator, keeping empty fields (so "1,,2" is an error later).
std::vector<std::string> split(const std::string& s, char sep);
std::string trim(const std::string& s);
/// Strips a character from both ends ("--ou.steps" -> "ou.steps").
std::string trim(const std::string& s, char c);

}  // namespace twinflow
