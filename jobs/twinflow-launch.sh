#!/bin/bash
# Runs an MPI launch of twinflow so that every stop signal ends it with the
# status twinflow promises: 75 (checkpointed, resume with --restart=latest).
#
#   jobs/twinflow-launch.sh [mpiexec options] twinflow run [ARGS...]
#   jobs/twinflow-launch.sh -n 4 build/src/twinflow run my.ini
#
# Why: Open MPI's mpiexec forwards SIGUSR1 to the ranks and exits with their
# status (75), but on SIGINT (Ctrl-C) or SIGTERM it terminates the job itself
# and exits 1, even though twinflow has written its checkpoint by then. This
# script starts mpiexec in a process group of its own (so Ctrl-C in the
# terminal reaches only the script), turns SIGINT, SIGTERM and SIGUSR1 into
# one SIGUSR1 for mpiexec, and exits with mpiexec's status. The launcher is
# $TWINFLOW_MPIEXEC (default: mpiexec on the PATH).
set -u
launcher=${TWINFLOW_MPIEXEC:-mpiexec}
if (($# == 0)); then
  echo "usage: twinflow-launch.sh [mpiexec options] twinflow run [ARGS...]" >&2
  exit 2
fi
set -m  # background jobs get their own process group
"$launcher" "$@" &
pid=$!
forwarded=0
stop() {
  if ((forwarded == 0)); then
    forwarded=1
    kill -USR1 "$pid" 2>/dev/null || true
  fi
}
trap stop INT TERM USR1
status=0
while true; do
  wait "$pid" && status=0 || status=$?
  kill -0 "$pid" 2>/dev/null || break
done
exit "$status"
