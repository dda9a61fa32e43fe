// A family for the reliability tests: it fails on purpose, on one rank
// only, in one of the ways a run can fail (a RuntimeFailure, a PETSc error,
// an HDF5 error, std::bad_alloc, another std::exception), either in the
// local work of a stage or inside a PETSc callback of a TS spread over all
// ranks. Its run is the Experiment interface at its plainest: one space
// (a 1-D grid), two stages, no twin.
//   pde    ∂_t u = ∂_xx u by explicit Euler on the DMDA (the right-hand side
//          exchanges ghost cells with the neighbours, so a rank that left
//          early would leave the others waiting), u written at each stop;
//   steps  a loop of local work with a step boundary after every step.
#include <petscdmda.h>
#include <petscts.h>

#include <stdexcept>

#include "families.hpp"
#include "io/hdf5_util.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/io/output_file.hpp"
#include "twinflow/pde/ts_evolution.hpp"
#include "twinflow/run/stages.hpp"

namespace twinflow::faulty {
namespace {

// Where and how the run fails: in stage `stage` at step `step` on rank `rank`.
struct Injection {
  std::string kind, stage;
  int rank = 0;
  std::int64_t step = 0;

  void at(const std::string& where, std::int64_t now, MPI_Comm comm) const {
    int me = 0;
    MPI_Comm_rank(comm, &me);
    if (kind == "none" || where != stage || now != step || me != rank) return;
    if (kind == "runtime") throw RuntimeFailure("injected runtime failure");
    if (kind == "petsc") {
      Vec a = nullptr, b = nullptr;
      TF_CHECK_PETSC(VecCreateSeq(PETSC_COMM_SELF, 3, &a));
      TF_CHECK_PETSC(VecCreateSeq(PETSC_COMM_SELF, 4, &b));
      const PetscErrorCode ierr = VecAXPY(a, 1.0, b);  // lengths differ: a PETSc error
      VecDestroy(&a);
      VecDestroy(&b);
      petsc_check(ierr, "VecAXPY");
    }
    if (kind == "hdf5") h5::check_id(H5Fopen("/nonexistent/twinflow-test.h5", H5F_ACC_RDONLY, H5P_DEFAULT), "open /nonexistent/twinflow-test.h5");
    if (kind == "bad_alloc") static_cast<void>(::operator new(std::size_t{1} << 60));
    if (kind == "std_exception") throw std::out_of_range("injected std::out_of_range");
  }
};

// ∂_t u = ∂_xx u with zero-flux walls, explicit Euler.
class Heat : public TsEvolution {
 public:
  Heat(const Grid& grid, double dt, const Injection& fault)
      : TsEvolution(grid.dm(), nullptr, dt, grid.box().cell_volume()), grid_(grid), fault_(fault) {
    TF_CHECK_PETSC(DMCreateGlobalVector(grid.dm(), &state_));
    std::vector<double> u0(static_cast<std::size_t>(grid.owned().size()));
    for (std::int64_t i = 0; i < grid.owned().count[0]; ++i) {
      const double x = grid.box().centre(0, grid.owned().start[0] + i);
      u0[i] = std::exp(-x * x);
    }
    grid.set_owned_values(u0, state_);
    TF_CHECK_PETSC(TSSetType(ts_, TSEULER));
    TF_CHECK_PETSC(TSSetRHSFunction(ts_, nullptr, &Heat::rhs, this));
    finish_setup();
  }
  Vec density() const override { return state_; }

 private:
  static PetscErrorCode rhs(TS, PetscReal, Vec u, Vec f, void* ctx) {
    auto* self = static_cast<Heat*>(ctx);
    return self->guarded([&] {
      DM dm = self->grid_.dm();
      Vec local = nullptr;
      TF_CHECK_PETSC(DMGetLocalVector(dm, &local));
      TF_CHECK_PETSC(DMGlobalToLocalBegin(dm, u, INSERT_VALUES, local));
      TF_CHECK_PETSC(DMGlobalToLocalEnd(dm, u, INSERT_VALUES, local));
      // The ghost exchange is done by every rank; the failure is in the
      // local work after it (see pde/ts_evolution.hpp).
      self->fault_.at("pde", self->steps(), self->grid_.comm());
      const PetscScalar* g = nullptr;
      PetscScalar* out = nullptr;
      TF_CHECK_PETSC(DMDAVecGetArrayRead(dm, local, &g));
      TF_CHECK_PETSC(DMDAVecGetArray(dm, f, &out));
      const auto n = static_cast<PetscInt>(self->grid_.box().cells[0]);
      const double h = self->grid_.box().spacing(0);
      const auto& o = self->grid_.owned();
      for (PetscInt i = static_cast<PetscInt>(o.start[0]); i < o.start[0] + o.count[0]; ++i) {
        const double left = i > 0 ? g[i - 1] : g[i], right = i + 1 < n ? g[i + 1] : g[i];
        out[i] = (left - 2 * g[i] + right) / (h * h);
      }
      TF_CHECK_PETSC(DMDAVecRestoreArray(dm, f, &out));
      TF_CHECK_PETSC(DMDAVecRestoreArrayRead(dm, local, &g));
      TF_CHECK_PETSC(DMRestoreLocalVector(dm, &local));
    });
  }
  const Grid& grid_;
  const Injection& fault_;
};

// Local work (a sum over a vector) with a step boundary after every step.
class Steps : public Stage {
 public:
  Steps(MPI_Comm comm, std::int64_t steps, const Injection& fault) : comm_(comm), steps_(steps), fault_(fault) {}
  std::string clock() const override { return "step"; }
  double clock_end() const override { return static_cast<double>(steps_); }
  double clock_now() const override { return static_cast<double>(done_); }
  bool run(StageContext& ctx) override {
    std::vector<double> work(1000, 1.0);
    while (done_ < steps_) {
      fault_.at("steps", done_, comm_);
      double sum = 0;
      for (double w : work) sum += w;
      ctx.out().attribute("/faulty", "sum", sum);
      ++done_;
      if (ctx.boundary(static_cast<double>(done_))) return false;
    }
    return true;
  }
  void checkpoint(CheckpointArchive& a) override { a.value("done", done_); }

 private:
  MPI_Comm comm_;
  std::int64_t steps_, done_ = 0;
  const Injection& fault_;
};

class Faulty : public Experiment {
 public:
  Faulty(const Config& c, MPI_Comm comm)
      : comm_(comm),
        fault_{c.choice("fault.kind"), c.choice("fault.stage"), static_cast<int>(c.integer("fault.rank")),
               c.integer("fault.step")},
        box_(Box::from_config(c, 1)),
        horizon_(c.real("time.end")),
        dt_(horizon_ / static_cast<double>(c.integer("pde.steps"))) {}

  std::vector<std::unique_ptr<StateSpace>> spaces(MPI_Comm comm) override {
    auto g = std::make_unique<GridSpace>(comm, box_);
    grid_ = g.get();
    std::vector<std::unique_ptr<StateSpace>> s;
    s.push_back(std::move(g));
    return s;
  }
  std::vector<std::string> stages() const override { return {"pde", "steps"}; }
  std::unique_ptr<Stage> make_stage(const std::string& name, RunSetup&) override {
    if (name == "steps") return std::make_unique<Steps>(comm_, 10, fault_);
    const std::vector<double> stops{0.25 * horizon_, 0.5 * horizon_, horizon_};
    PdeStage::Hooks hooks;
    hooks.prepare_output = [this, stops](OutputFile& out) {
      out.create_series("/faulty/u", "/faulty/time", static_cast<std::int64_t>(stops.size()), grid_->slab());
      out.write_vector("/faulty/time", stops);
    };
    hooks.at_stop = [this](std::size_t i, double, const DensitySolver& pde, StageContext& ctx) {
      std::vector<double> u;
      grid_->grid().owned_values(pde.density(), u);
      ctx.out().write_entry("/faulty/u", static_cast<std::int64_t>(i), grid_->slab(), u);
    };
    hooks.finish = [](const DensitySolver&, StageContext&) {};
    hooks.state = [](CheckpointArchive&) {};
    return std::make_unique<PdeStage>(std::make_unique<Heat>(grid_->grid(), dt_, fault_), stops, std::move(hooks));
  }
  std::vector<Twin> twins(RunSetup&) override { return {}; }

 private:
  MPI_Comm comm_;
  Injection fault_;
  Box box_;
  double horizon_, dt_;
  const GridSpace* grid_ = nullptr;
};

}  // namespace

Family family() {
  return {"faulty", "fails on purpose on one rank (reliability tests only)",
          [](OptionSet& o) {
            o.add("fault.kind", "none", "what fails",
                  Accept::choice({"none", "runtime", "petsc", "hdf5", "bad_alloc", "std_exception"}));
            o.add("fault.stage", "steps", "the stage it fails in (pde: inside a PETSc callback)",
                  Accept::choice({"pde", "steps"}));
            o.add("fault.rank", "0", "the rank that fails", Accept::integer(0, 1e6));
            o.add("fault.step", "3", "the step it fails at", Accept::integer(0, 1e9));
          },
          [](const Config& c, MPI_Comm comm) { return std::make_unique<Faulty>(c, comm); }};
}

}  // namespace twinflow::faulty
