// The command line of twinflow, for a list of families: `twinflow run` does
// the work (driver.cpp); everything else prints help or the version. The
// production binary (main.cpp) passes the registered families; test binaries
// may add families of their own.
#include "cli.hpp"

#include <H5Epublic.h>
#include <mpi.h>
#include <petscsys.h>

#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "driver.hpp"
#include "twinflow/io/file_diff.hpp"
#include "twinflow/core/collective.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/core/petsc_error.hpp"
#include "twinflow/core/run_control.hpp"
#include "twinflow/version.hpp"

namespace {

const char* kUsage =
    "usage: twinflow run [CONFIG.ini] [--key=value ...] [PETSc options]\n"
    "       twinflow run --help     every key with its default and accepted values\n"
    "       twinflow diff A.h5 B.h5 [--rtol=R] [--atol=A] [--exact=PREFIX ...] [--tolerance=PREFIX:R:A ...]\n"
    "                               [--ignore-dataset=PATTERN ...] [--ignore-attribute=NAME ...] [--all-attributes]\n"
    "                               identical, equal within |a - b| <= atol + rtol |b|, or what differs; datasets\n"
    "                               under PREFIX bit for bit (--exact) or within their own R, A; a PATTERN is a\n"
    "                               dataset path or *suffix, a NAME an attribute name or *suffix\n"
    "                               (exit 0, 0, 1); provenance attributes and the output keys of the config\n"
    "                               are skipped unless --all-attributes\n"
    "       twinflow --help | --version\n\n"
    "Computes a generative model's dynamics twice, as a density on a PETSc grid or state space and\n"
    "as an MPI ensemble of particles, and writes both with their comparison to one HDF5 file.\n"
    "Launch with mpirun/mpiexec (-q keeps Open MPI's own lines off a rejected run), or srun\n"
    "--mpi=pmix under Slurm.\n\n"
    "Exit codes: 0 success, 1 runtime failure (one line names the rank, the stage and the time),\n"
    "2 input rejected (one line names the key), 75 checkpointed and stopped early (signal or\n"
    "checkpoint.walltime): resume with --restart=latest.\n\n"
    "Families:\n";

int say_error(int rank, const std::string& what, int code) {
  if (rank == 0) std::cerr << "twinflow: error: " << what << std::endl;
  return code;
}

// `twinflow diff`, on rank 0 (the others wait for its exit code).
int diff_command(int rank, const std::vector<std::string>& args) {
  int code = 0;
  if (rank == 0) {
    try {
      twinflow::DiffOptions options;
      std::vector<std::string> files;
      const auto tolerance = [](const std::string& key, const std::string& text) {
        std::size_t used = 0;
        double v = -1;
        try {
          v = std::stod(text, &used);
        } catch (const std::exception&) {
        }
        if (used != text.size() || !(v >= 0))
          throw twinflow::UsageError(key, "'" + text + "' is not a tolerance; accepted: a number >= 0");
        return v;
      };
      for (const auto& a : args) {
        if (a.rfind("--rtol=", 0) == 0) {
          options.default_tolerance.rtol = tolerance("--rtol", a.substr(7));
        } else if (a.rfind("--atol=", 0) == 0) {
          options.default_tolerance.atol = tolerance("--atol", a.substr(7));
        } else if (a.rfind("--exact=", 0) == 0) {
          if (a.size() == 8)
            throw twinflow::UsageError("--exact", "an empty prefix; accepted: a path prefix, e.g. /particles/");
          options.tolerance_by_prefix[a.substr(8)] = {};
        } else if (a.rfind("--tolerance=", 0) == 0) {
          // PREFIX:RTOL:ATOL, split at the last two colons.
          const std::string v = a.substr(12);
          const auto second = v.rfind(':'), first = second == std::string::npos || second == 0
                                                        ? std::string::npos : v.rfind(':', second - 1);
          if (first == std::string::npos || first == 0)
            throw twinflow::UsageError("--tolerance", "'" + v + "' is not PREFIX:RTOL:ATOL; accepted: e.g. "
                                       "/pde/:1e-10:1e-14 (PREFIX not empty)");
          options.tolerance_by_prefix[v.substr(0, first)] = {
              tolerance("--tolerance", v.substr(first + 1, second - first - 1)),
              tolerance("--tolerance", v.substr(second + 1))};
        } else if (a.rfind("--ignore-dataset=", 0) == 0) {
          options.ignored_datasets.insert(a.substr(17));
        } else if (a.rfind("--ignore-attribute=", 0) == 0) {
          options.ignored_attributes.insert(a.substr(19));
        } else if (a == "--all-attributes") {
          options.ignored_attributes.clear();
          options.ignored_config_keys.clear();
        } else if (a.rfind("--", 0) == 0) {
          throw twinflow::UsageError(a.substr(0, a.find('=')), "is not an option of diff; accepted: --rtol, --atol, "
                                     "--exact, --tolerance, --ignore-dataset, --ignore-attribute, --all-attributes");
        } else {
          files.push_back(a);
        }
      }
      if (files.size() != 2)
        throw twinflow::UsageError("diff", std::to_string(files.size()) + " files given; accepted: two, A.h5 B.h5");
      twinflow::DiffResult r;
      try {
        r = twinflow::diff_files(files[0], files[1], options);
      } catch (const std::runtime_error& e) {
        throw twinflow::UsageError("diff", e.what());
      }
      using V = twinflow::DiffResult::Verdict;
      for (const auto& line : r.lines) std::cout << (r.verdict == V::kDifferent ? "differs: " : "") << line << "\n";
      if (r.verdict == V::kIdentical)
        std::cout << "identical: " << r.objects << " groups and datasets\n";
      else if (r.verdict == V::kWithinTolerance)
        std::cout << "equal within rtol " << options.default_tolerance.rtol << ", atol "
                  << options.default_tolerance.atol
                  << (options.tolerance_by_prefix.empty() ? "" : " (and the tolerances of their own)") << ": "
                  << r.objects
                  << " groups and datasets\n";
      else
        std::cout << r.lines.size() << " difference(s)\n";
      std::cout << std::flush;
      code = r.verdict == V::kDifferent ? 1 : 0;
    } catch (const twinflow::UsageError& e) {
      code = say_error(rank, e.what(), twinflow::kExitUsage);
    }
  }
  MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return code;
}

}  // namespace

namespace twinflow {

int cli_main(int argc, char** argv, const std::vector<Family>& families) {
  catch_stop_signals();
  MPI_Init(&argc, &argv);
  // HDF5 failures are reported as one line by the caller, not as HDF5's
  // error stack on every rank.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const std::vector<std::string> tokens(argv + 1, argv + argc);
  int code = kExitOk;
  const std::string command = tokens.empty() ? "" : tokens[0];
  if (command == "--version") {
    if (rank == 0) std::cout << "twinflow " << kVersion << " (" << kGitSha << ")\n";
  } else if (command.empty() || command == "--help" || command == "-h" || command == "help") {
    if (rank == 0) {
      std::cout << kUsage;
      for (const auto& f : families) std::cout << "  " << f.name << "  " << f.summary << "\n";
    }
    code = command.empty() ? kExitUsage : kExitOk;
  } else if (command == "diff") {
    code = diff_command(rank, {tokens.begin() + 1, tokens.end()});
  } else if (command != "run") {
    code = say_error(rank, "unknown command '" + command + "'; accepted: run, diff, --help, --version", kExitUsage);
  } else {
    try {
      const auto args = split_run_arguments({tokens.begin() + 1, tokens.end()},
                                                      all_options(families));
      // PETSc sees only its own tokens; MPI is already initialised, so
      // PetscFinalize leaves MPI_Finalize to us.
      std::vector<char*> petsc_argv{argv[0]};
      for (const auto& t : args.petsc) petsc_argv.push_back(const_cast<char*>(t.c_str()));
      int petsc_argc = static_cast<int>(petsc_argv.size());
      petsc_argv.push_back(nullptr);
      char** pargv = petsc_argv.data();
      if (PetscInitialize(&petsc_argc, &pargv, nullptr, nullptr)) {
        code = say_error(rank, "PETSc failed to initialise", kExitFailure);
      } else {
        install_petsc_error_handler();
        try {
          code = run(MPI_COMM_WORLD, args, families);
        } catch (const UsageError& e) {
          code = say_error(rank, e.what(), kExitUsage);
        } catch (const std::exception& e) {
          // Failures reach here agreed by every rank (a PeerFailure names
          // the rank that failed); anything else failed on every rank.
          code = say_error(rank, describe(e), kExitFailure);
        }
        PetscFinalize();
      }
    } catch (const UsageError& e) {
      code = say_error(rank, e.what(), kExitUsage);
    }
  }
  MPI_Finalize();
  return code;
}

}  // namespace twinflow
