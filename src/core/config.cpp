#include "twinflow/core/config.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "twinflow/core/error.hpp"

namespace po = boost::program_options;

namespace twinflow {

Accept Accept::integer(double lo, double hi) {
  Accept a;
  a.kind = Kind::kInteger;
  a.lo = lo;
  a.hi = hi;
  return a;
}
Accept Accept::real(double lo, double hi, bool lo_open) {
  Accept a;
  a.kind = Kind::kReal;
  a.lo = lo;
  a.hi = hi;
  a.lo_open = lo_open;
  return a;
}
Accept Accept::boolean() {
  Accept a;
  a.kind = Kind::kBoolean;
  return a;
}
Accept Accept::choice(std::vector<std::string> choices) {
  Accept a;
  a.kind = Kind::kChoice;
  a.choices = std::move(choices);
  return a;
}
Accept Accept::any_text(std::string description) {
  Accept a;
  a.kind = Kind::kText;
  a.text = std::move(description);
  return a;
}
Accept Accept::real_list() {
  Accept a;
  a.kind = Kind::kRealList;
  return a;
}
Accept Accept::integer_list(double lo) {
  Accept a;
  a.kind = Kind::kIntegerList;
  a.lo = lo;
  return a;
}

namespace {
std::string number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
std::string range(const Accept& a) {
  const bool has_lo = std::isfinite(a.lo), has_hi = std::isfinite(a.hi);
  if (has_lo && has_hi) return "in [" + number(a.lo) + ", " + number(a.hi) + "]";
  if (has_lo) return (a.lo_open ? "> " : ">= ") + number(a.lo);
  if (has_hi) return "<= " + number(a.hi);
  return "";
}
}  // namespace

std::string Accept::describe() const {
  switch (kind) {
    case Kind::kInteger: return "an integer " + range(*this);
    case Kind::kReal: {
      const std::string r = range(*this);
      return r.empty() ? "a real number" : "a real number " + r;
    }
    case Kind::kBoolean: return "true or false";
    case Kind::kChoice: {
      std::string s = "one of ";
      for (std::size_t i = 0; i < choices.size(); ++i) s += (i ? ", " : "") + choices[i];
      return s;
    }
    case Kind::kRealList: return "a comma list of reals, one per dimension or one for all";
    case Kind::kIntegerList:
      return "a comma list of integers " + range(*this) + ", one per dimension or one for all";
    case Kind::kText: return text;
  }
  return text;
}

void OptionSet::add(const std::string& name, const std::string& default_value,
                    const std::string& help, Accept accept) {
  keys_.push_back({name, default_value, help, std::move(accept), family_});
}

namespace {
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}
}  // namespace

std::string OptionSet::nearest(const std::string& name) const {
  std::string best;
  std::size_t distance = std::max<std::size_t>(3, name.size() / 3) + 1;
  for (const auto& k : keys_) {
    const std::size_t d = edit_distance(name, k.name);
    if (d < distance) distance = d, best = k.name;
  }
  return best;
}

const OptionSet::Key* OptionSet::find(const std::string& name) const {
  for (const auto& k : keys_)
    if (k.name == name) return &k;
  return nullptr;
}

std::string OptionSet::help_text() const {
  std::ostringstream os;
  std::string section = "\x01";
  for (const auto& k : keys_) {
    const auto dot = k.name.find('.');
    const std::string sec = dot == std::string::npos ? "" : k.name.substr(0, dot);
    if (sec != section) {
      section = sec;
      os << "\n[" << (sec.empty() ? "general" : sec) << "]\n";
    }
    os << "  --" << k.name << "=" << (k.default_value.empty() ? "\"\"" : k.default_value) << "\n"
       << "      " << k.help << "\n"
       << "      accepts " << k.accept.describe() << "\n";
  }
  return os.str();
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(trim(cur));
  return out;
}

double parse_real(const std::string& key, const std::string& token, const std::string& accepted) {
  const std::string t = trim(token);
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(t, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (t.empty() || used != t.size() || !std::isfinite(v))
    throw UsageError(key, "'" + token + "' is not a number; accepted: " + accepted);
  return v;
}

namespace {

std::string suggestion(const OptionSet& options, const std::string& name) {
  const std::string near = options.nearest(name);
  return near.empty() ? "" : "; did you mean '" + near + "'?";
}

// INI text with the lines of a [general] section moved before the first
// section, where Boost.Program_options expects keys without a dot.
std::string general_first(std::istream& in) {
  std::string line, general, rest;
  bool in_general = false;
  while (std::getline(in, line)) {
    const std::string t = trim(line);
    if (!t.empty() && t.front() == '[' && t.back() == ']') in_general = trim(t.substr(1, t.size() - 2)) == "general";
    if (in_general) {
      if (t.front() != '[') general += line + "\n";
    } else {
      rest += line + "\n";
    }
  }
  return general + rest;
}

}  // namespace

Config Config::parse(const OptionSet& options, const std::string& config_path,
                     const std::vector<std::string>& overrides) {
  po::options_description desc;
  for (const auto& k : options.keys()) {
    auto* v = po::value<std::string>();
    if (k.accept.kind == Accept::Kind::kBoolean) v->implicit_value("true");
    desc.add_options()(k.name.c_str(), v, k.help.c_str());
  }
  po::variables_map vm;
  std::vector<std::string> args;
  for (const auto& o : overrides) args.push_back(o);
  try {
    po::store(po::command_line_parser(args)
                  .options(desc)
                  .style(po::command_line_style::allow_long |
                         po::command_line_style::long_allow_adjacent |
                         po::command_line_style::long_allow_next)
                  .run(),
              vm);
  } catch (const po::unknown_option& e) {
    const std::string raw = trim(e.get_option_name(), '-'), name = raw.substr(0, raw.find('='));
    throw UsageError(name, "unknown option" + suggestion(options, name) + "; 'twinflow run --help' lists every key");
  } catch (const po::multiple_occurrences& e) {
    throw UsageError(trim(e.get_option_name(), '-'), "given more than once on the command line");
  } catch (const po::error& e) {
    throw UsageError("command line", e.what());
  }
  if (!config_path.empty()) {
    std::error_code ec;
    std::ifstream file(config_path);
    if (!file || !std::filesystem::is_regular_file(config_path, ec))
      throw UsageError("config", "cannot read file '" + config_path + "'; accepted: a readable INI file");
    std::istringstream in(general_first(file));
    try {
      po::store(po::parse_config_file(in, desc, false), vm);
    } catch (const po::unknown_option& e) {
      throw UsageError(e.get_option_name(), "unknown key in '" + config_path + "'" +
                                                suggestion(options, e.get_option_name()) +
                                                "; 'twinflow run --help' lists every key");
    } catch (const po::error& e) {
      throw UsageError("config", "'" + config_path + "': " + e.what());
    }
  }
  Config c;
  c.options_ = &options;
  for (const auto& k : options.keys()) {
    const bool set = vm.count(k.name) > 0;
    c.values_[k.name] = set ? vm[k.name].as<std::string>() : k.default_value;
    c.given_[k.name] = set;
  }
  return c;
}

const OptionSet::Key& Config::declared(const std::string& key) const {
  const auto* k = options_->find(key);
  if (!k) throw std::logic_error("undeclared configuration key " + key);
  return *k;
}

std::string Config::text(const std::string& key) const {
  declared(key);
  return values_.at(key);
}

bool Config::given(const std::string& key) const {
  declared(key);
  return given_.at(key);
}

void Config::set_default(const std::string& key, const std::string& value) {
  if (!given(key)) values_[key] = value;
}

namespace {
void check_range(const std::string& key, const std::string& token, double v, const Accept& a) {
  const bool below = a.lo_open ? !(v > a.lo) : v < a.lo;
  if (below || v > a.hi)
    throw UsageError(key, "'" + token + "' is out of range; accepted: " + a.describe());
}
std::int64_t to_integer(const std::string& key, const std::string& token, const Accept& a) {
  const std::string t = trim(token);
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(t, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (t.empty() || used != t.size())
    throw UsageError(key, "'" + token + "' is not an integer; accepted: " + a.describe());
  check_range(key, token, static_cast<double>(v), a);
  return v;
}
}  // namespace

std::int64_t Config::integer(const std::string& key) const {
  const auto& k = declared(key);
  return to_integer(key, values_.at(key), k.accept);
}

double Config::real(const std::string& key) const {
  const auto& k = declared(key);
  const std::string& token = values_.at(key);
  const double v = parse_real(key, token, k.accept.describe());
  check_range(key, token, v, k.accept);
  return v;
}

bool Config::boolean(const std::string& key) const {
  const auto& k = declared(key);
  const std::string t = trim(values_.at(key));
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  throw UsageError(key, "'" + t + "' is not a boolean; accepted: " + k.accept.describe());
}

std::string Config::choice(const std::string& key) const {
  const auto& k = declared(key);
  const std::string t = trim(values_.at(key));
  for (const auto& c : k.accept.choices)
    if (c == t) return t;
  throw UsageError(key, "'" + t + "' is not known; accepted: " + k.accept.describe());
}

std::vector<double> Config::real_list(const std::string& key) const {
  const auto& k = declared(key);
  std::vector<double> out;
  for (const auto& f : split(values_.at(key), ',')) out.push_back(parse_real(key, f, k.accept.describe()));
  return out;
}

std::vector<double> Config::real_list(const std::string& key, std::size_t count) const {
  const auto& k = declared(key);
  std::vector<double> out = real_list(key);
  if (out.size() == 1) out.assign(count, out[0]);
  if (out.size() != count)
    throw UsageError(key, "has " + std::to_string(out.size()) + " entries for " +
                              std::to_string(count) + " dimensions; accepted: " + k.accept.describe());
  return out;
}

std::vector<std::int64_t> Config::integer_list(const std::string& key, std::size_t count) const {
  const auto& k = declared(key);
  std::vector<std::int64_t> out;
  for (const auto& f : split(values_.at(key), ',')) out.push_back(to_integer(key, f, k.accept));
  if (out.size() == 1) out.assign(count, out[0]);
  if (out.size() != count)
    throw UsageError(key, "has " + std::to_string(out.size()) + " entries for " +
                              std::to_string(count) + " dimensions; accepted: " + k.accept.describe());
  return out;
}

void Config::check_family(const std::string& family) const {
  for (const auto& k : options_->keys())
    if (given_.at(k.name) && !k.family.empty() && k.family != family)
      throw UsageError(k.name, "belongs to family " + k.family + ", but the run is of family " + family +
                                   "; accepted: the platform's keys and those of family " + family +
                                   " ('twinflow run --help')");
}

std::string Config::resolved_ini(const std::string& family) const {
  // [general] first (keys without a dot), then each section in declaration
  // order; other families' sections are left out.
  std::ostringstream os;
  std::vector<std::string> sections;
  os << "[general]\n";
  for (const auto& k : options_->keys()) {
    if (!k.family.empty() && k.family != family) continue;
    const auto dot = k.name.find('.');
    if (dot == std::string::npos) {
      os << k.name << " = " << values_.at(k.name) << "\n";
    } else if (std::find(sections.begin(), sections.end(), k.name.substr(0, dot)) == sections.end()) {
      sections.push_back(k.name.substr(0, dot));
    }
  }
  for (const auto& sec : sections) {
    os << "\n[" << sec << "]\n";
    for (const auto& k : options_->keys())
      if (k.name.rfind(sec + ".", 0) == 0 && (k.family.empty() || k.family == family))
        os << k.name.substr(sec.size() + 1) << " = " << values_.at(k.name) << "\n";
  }
  return os.str();
}

std::string trim(const std::string& s, char c) {
  const auto b = s.find_first_not_of(c);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(c) - b + 1);
}

}  // namespace twinflow
