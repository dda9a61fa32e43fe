# shellcheck shell=bash
# The machinery every study in jobs/ shares (the KL study, the free family's
# matrix-size study, the spin family's Monte Carlo sweep). A study is a
# Python script with four subcommands,
#   SCRIPT check [TABLE] [--key=value ...]            validate; print every task's arguments
#   SCRIPT count [TABLE] [--key=value ...]            validate; print the number of tasks
#   SCRIPT args [TABLE] TASK OUTDIR [--key=value ...] validate; the `twinflow run` arguments of a task
#   SCRIPT collect OUTDIR                             gather the tasks' outputs
# (TABLE for a study driven by a run table), a Slurm array script whose task
# i runs task i, and a collector script submitted with afterok. Sourced after
# job-lib.sh; defines functions only.

# study_main NAME SCRIPT TASK_SBATCH COLLECT_SBATCH DEFAULT_TABLE LAUNCHER ARGS...
# A launcher's command line: ARGS is `MODE [TABLE] [--key=value ...]` (TABLE
# only for a study with a DEFAULT_TABLE, "" otherwise; a first argument
# that is no option replaces it), or --help (the header of LAUNCHER).
study_main() {
  local name=$1 script=$2 task_sbatch=$3 collect_sbatch=$4 table=$5 launcher=$6
  shift 6
  local mode=${1:-} usage="usage: $launcher submit|local|check"
  [[ -n $table ]] && usage+=" [TABLE]"
  case $mode in
    submit | local | check) shift ;;
    -h | --help)
      sed -n '2,/^$/s/^# \{0,1\}//p' "$launcher"
      exit 0
      ;;
    *) study_die "$name" 2 "$usage [--key=value ...]   ($launcher --help for more)" ;;
  esac
  if [[ -n $table && $# -gt 0 && $1 != --* ]]; then
    table=$1
    shift
  fi
  study_launch "$name" "$script" "$task_sbatch" "$collect_sbatch" "$table" "$mode" "$@"
}

# study_launch NAME SCRIPT TASK_SBATCH COLLECT_SBATCH TABLE MODE [--key=value ...]
# The whole of a study's launcher (jobs/NAME.sh). TABLE is the study's run
# table, copied into the output directory for the jobs to read, or "" for a
# study without one. MODE is check, submit or local (see the launchers'
# headers); messages are prefixed with NAME; bad input exits 2 before
# anything is created, submitted or run.
study_launch() {
  local name=$1 script=$2 task_sbatch=$3 collect_sbatch=$4 table=$5 mode=$6
  shift 6
  local jobs checkout python tasks twinflow np outdir stale array collector task t0 status plan
  jobs=$(dirname "$script")
  checkout=$(dirname "$jobs")
  local -a pre=() args=()
  [[ -n $table ]] && pre=("$table")
  python=$(twinflow_python "$name") || exit 2
  local -a study=("$python" "$script")
  if [[ $mode == check ]]; then
    exec "${study[@]}" check "${pre[@]}" "$@"
  fi

  # Validate everything before anything is created, submitted or run.
  tasks=$("${study[@]}" count "${pre[@]}" "$@") || exit $?
  twinflow=$(twinflow_binary "$name" "$checkout") || exit 2
  twinflow=$(realpath -- "$twinflow")
  if [[ $mode == local ]]; then
    np=${TWINFLOW_NP:-2}
    [[ $np =~ ^[1-9][0-9]*$ ]] || study_die "$name" 2 "TWINFLOW_NP '$np' is not a positive integer; accepted: an integer >= 1"
    command -v mpirun >/dev/null 2>&1 ||
      study_die "$name" 2 "mpirun not found on the PATH; accepted: an MPI installation (the one twinflow was built with)"
  else
    command -v sbatch >/dev/null 2>&1 || study_die "$name" 2 "sbatch not found on the PATH; use 'local' to run without Slurm"
  fi

  if [[ -n ${TWINFLOW_OUTDIR:-} ]]; then
    outdir=$TWINFLOW_OUTDIR
    mkdir -p -- "$outdir"
    stale=$(find "$outdir" -maxdepth 1 -name '*.h5' | wc -l)
    if ((stale > 0)); then
      echo "$name: warning: $outdir already holds $stale .h5 file(s); the collector reads every run there" >&2
    fi
  else
    outdir=$name-$(date +%Y%m%d-%H%M%S)
    mkdir -- "$outdir" || study_die "$name" 1 "cannot create $outdir (a study started in the same second?); set TWINFLOW_OUTDIR"
  fi
  outdir=$(cd "$outdir" && pwd -P)
  if [[ -n $table ]]; then
    # The jobs read this copy: the table may be edited while they are queued.
    local frozen
    frozen=$outdir/$(basename "$table")
    [[ $table -ef $frozen ]] || cp -- "$table" "$frozen"
    pre=("$frozen")
  fi

  if [[ $mode == submit ]]; then
    export TWINFLOW=$twinflow TWINFLOW_PYTHON=$python TWINFLOW_JOBS=$jobs
    array=$(sbatch --parsable --array="0-$((tasks - 1))" --output="$outdir/task-%3a.log" \
      "$task_sbatch" "${pre[@]}" "$outdir" "$@") || study_die "$name" 1 "sbatch of the job array failed; nothing submitted"
    array=${array%%;*} # --parsable prints "jobid[;cluster]"
    if ! collector=$(sbatch --parsable --dependency="afterok:$array" --output="$outdir/collect.log" \
      "$collect_sbatch" "$outdir"); then
      scancel "$array" || true
      study_die "$name" 1 "sbatch of the collector failed; cancelled the job array $array"
    fi
    collector=${collector%%;*}
    echo "$name: array job $array ($tasks tasks, logs $outdir/task-NNN.log)"
    echo "$name: collector job $collector (after the array succeeds; log $outdir/collect.log)"
    echo "$name: output in $outdir"
    exit 0
  fi

  # local
  if [[ $(id -u) == 0 && -z ${OMPI_ALLOW_RUN_AS_ROOT:-} ]]; then
    echo "$name: warning: running as root: Open MPI's mpirun refuses unless OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 are exported" >&2
  fi
  echo "$name: $tasks runs on $np ranks each, output in $outdir"
  for ((task = 0; task < tasks; task++)); do
    local log
    log=$outdir/$(printf 'task-%03d' "$task").log
    plan=$("${study[@]}" args "${pre[@]}" "$task" "$outdir" "$@")
    mapfile -t args <<<"$plan"
    echo "$name: task $task ($((task + 1))/$tasks): ${args[*]:0:6}"
    t0=$SECONDS
    status=0
    mpirun -n "$np" "$twinflow" run "${args[@]}" >"$log" 2>&1 </dev/null || status=$?
    if ((status != 0)); then
      tail -n 20 "$log" >&2
      study_die "$name" 1 "task $task failed (exit status $status; log $log); stopping before the collector"
    fi
    echo "$name: task $task done in $((SECONDS - t0)) s"
  done
  "${study[@]}" collect "$outdir" 2>&1 | tee "$outdir/collect.log"
}

# study_die NAME STATUS MESSAGE: the message on stderr, prefixed with NAME; exits.
study_die() {
  echo "$1: $3" >&2
  exit "$2"
}

# study_task NAME SCRIPT HAS_TABLE [TABLE] OUTDIR [--key=value ...]
# The body of a study's array task (jobs/NAME.sbatch): runs task
# $SLURM_ARRAY_TASK_ID of the study with srun --mpi=$TWINFLOW_SRUN_MPI
# (default pmix) and exits with its status. HAS_TABLE is 1 when the study
# takes a run table.
study_task() {
  local name=$1 script=$2 has_table=$3
  shift 3
  local -a pre=()
  local usage="sbatch --array=0-<tasks-1> jobs/$name.sbatch"
  ((has_table)) && usage+=" TABLE"
  if [[ -z ${SLURM_ARRAY_TASK_ID:-} ]]; then
    echo "$name.sbatch: not a task of a Slurm job array; submit it with: jobs/$name.sh submit" >&2
    exit 2
  fi
  if [[ $# -lt $((has_table + 1)) ]]; then
    echo "$name.sbatch: usage: $usage OUTDIR [--key=value ...]" >&2
    exit 2
  fi
  if ((has_table)); then
    pre=("$1")
    shift
  fi
  local outdir=$1
  shift
  local twinflow python plan status=0
  twinflow=$(twinflow_binary "$name.sbatch" "$SLURM_SUBMIT_DIR") || exit 2
  python=$(twinflow_python "$name.sbatch") || exit 2
  mkdir -p "$outdir"
  plan=$("$python" "$script" args "${pre[@]}" "$SLURM_ARRAY_TASK_ID" "$outdir" "$@")
  local -a args
  mapfile -t args <<<"$plan"
  echo "$name.sbatch: job ${SLURM_JOB_ID} (array ${SLURM_ARRAY_JOB_ID:-?} task ${SLURM_ARRAY_TASK_ID}) on ${SLURM_JOB_NODELIST:-?}, ${SLURM_NTASKS:-?} tasks, started $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "$name.sbatch: binary ${twinflow}"
  echo "$name.sbatch: task ${SLURM_ARRAY_TASK_ID}${pre[0]:+ of ${pre[0]}}: ${args[*]}"
  srun --mpi="${TWINFLOW_SRUN_MPI:-pmix}" "$twinflow" run "${args[@]}" || status=$?
  echo "$name.sbatch: finished $(date -u +%Y-%m-%dT%H:%M:%SZ), exit status ${status}"
  exit "$status"
}

# study_collect NAME SCRIPT [OUTDIR]: the body of a study's collector job
# (jobs/NAME.sbatch): runs `SCRIPT collect OUTDIR`.
study_collect() {
  local name=$1 script=$2
  shift 2
  if [[ $# -ne 1 ]]; then
    echo "$name.sbatch: usage: sbatch jobs/$name.sbatch OUTDIR" >&2
    exit 2
  fi
  local python
  python=$(twinflow_python "$name.sbatch") || exit 2
  echo "$name.sbatch: job ${SLURM_JOB_ID:-?} collecting $1, started $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  exec "$python" "$script" collect "$1"
}
