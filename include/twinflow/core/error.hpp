#pragma once
// Error types of the application layer. PETSc callbacks never throw; they
// return PetscErrorCode. Everything above them throws one of these.
#include <stdexcept>
#include <string>

namespace twinflow {

/// Process exit codes, documented in the README.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,   ///< a runtime failure (solver divergence, I/O error)
  kExitUsage = 2,     ///< the user's input was rejected
};

/// A user error: names the option (or file) at fault and what is accepted.
/// what() is the single line printed to the user.
class UsageError : public std::runtime_error {
 public:
  UsageError(const std::string& key, const std::string& problem)
      : std::runtime_error("option '" + key + "': " + problem), key_(key) {}
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

/// A failure that is not the user's fault but still ends the run cleanly.
class RuntimeFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace twinflow
