#include "twinflow/core/petsc_error.hpp"

#include <string>

#include "twinflow/core/error.hpp"

namespace twinflow {
namespace {

std::string& last_message() {
  static std::string message;
  return message;
}

// Keeps the first message of an error (the place it was raised, not the
// frames it travelled through) and returns the code without printing.
PetscErrorCode remember(MPI_Comm, int, const char* function, const char*, PetscErrorCode n, PetscErrorType p,
                        const char* message, void*) {
  if (p == PETSC_ERROR_INITIAL)
    last_message() = std::string(message && *message ? message : "error") + " (in " + (function ? function : "?") + ")";
  return n;
}

}  // namespace

void install_petsc_error_handler() { PetscPushErrorHandler(remember, nullptr); }

std::string petsc_error_message(PetscErrorCode ierr) {
  if (!last_message().empty()) return last_message();
  const char* text = nullptr;
  PetscErrorMessage(ierr, &text, nullptr);
  return text ? text : "error " + std::to_string(ierr);
}

void petsc_check(PetscErrorCode ierr, const char* what) {
  if (!ierr) return;
  const std::string message = petsc_error_message(ierr);
  last_message().clear();
  throw RuntimeFailure(std::string("PETSc: ") + what + " failed: " + message);
}

void petsc_check_options(PetscErrorCode ierr, const char* what) {
  if (!ierr) return;
  const std::string message = petsc_error_message(ierr);
  last_message().clear();
  throw UsageError("PETSc options", std::string("rejected by ") + what + ": " + message +
                                        "; accepted: the values PETSc lists for that option with -help");
}

}  // namespace twinflow
