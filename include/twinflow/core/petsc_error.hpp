#pragma once
// PETSc errors as exceptions. install_petsc_error_handler() replaces PETSc's
// handler, which prints an error block on every rank, by one that only
// remembers the first message of the error and returns the code; a checked
// call then throws it as one line. Every PETSc call outside a PETSc callback
// goes through TF_CHECK_PETSC (inside callbacks, PetscCall returns the code
// to PETSc as usual). Not collective.
#include <petscsys.h>

#include <string>

namespace twinflow {

/// Installs the recording handler (after PetscInitialize).
void install_petsc_error_handler();

/// The message of the last PETSc error ("Unknown TS type: nonsense (in
/// TSSetType)"), or a generic text for the code.
std::string petsc_error_message(PetscErrorCode ierr);

/// Throws RuntimeFailure "PETSc: <what> failed: <message>" when ierr != 0.
void petsc_check(PetscErrorCode ierr, const char* what);

/// Throws UsageError naming the PETSc options when a *SetFromOptions call
/// failed: the options database holds the user's input.
void petsc_check_options(PetscErrorCode ierr, const char* what);

}  // namespace twinflow

/// Checks a PETSc call outside a callback, naming the call in the message.
#define TF_CHECK_PETSC(call) ::twinflow::petsc_check((call), #call)
