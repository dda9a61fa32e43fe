#!/usr/bin/env bash
# Single-node Slurm on the current machine, for testing the job scripts in
# jobs/ for real (see DESIGN.md, "Slurm"). Must run as root.
#
#   jobs/local-slurm.sh start STATE_DIR   # prints: export SLURM_CONF=STATE_DIR/slurm.conf
#   jobs/local-slurm.sh stop  STATE_DIR
#
# Typical use:
#   eval "$(jobs/local-slurm.sh start /tmp/slurm-state)"
#   sbatch --wait jobs/twin.sbatch
#   jobs/local-slurm.sh stop /tmp/slurm-state
#
# `start` writes STATE_DIR/slurm.conf, starts munged (only if no working munged
# is already listening on the default socket; then with its own key, socket and
# pid file in STATE_DIR), slurmctld and slurmd, records their PIDs in
# STATE_DIR/pids/, and waits (bounded) until the node is idle. Ports are chosen
# so as not to collide with anything already listening (e.g. a site Slurm on
# 6817/6818). Running `start` again on a live STATE_DIR only re-checks it.
#
# `stop` cancels the jobs still in this private cluster, then terminates only
# the daemons whose PIDs `start` recorded (after checking that each PID still
# belongs to a daemon of this STATE_DIR), waits for them to exit, and leaves
# STATE_DIR (config, logs, state) in place for inspection.
#
# The only stdout output of `start` is the export line; progress goes to stderr.
#
# Environment knobs:
#   LOCAL_SLURM_TIMEOUT   seconds to wait for the node to become idle (default 60)
#   LOCAL_SLURM_MPI       MpiDefault written to slurm.conf (default pmix)

set -euo pipefail

SLURMCTLD=${SLURMCTLD:-$(command -v slurmctld || echo /usr/sbin/slurmctld)}
SLURMD=${SLURMD:-$(command -v slurmd || echo /usr/sbin/slurmd)}
MUNGED=${MUNGED:-$(command -v munged || echo /usr/sbin/munged)}
TIMEOUT=${LOCAL_SLURM_TIMEOUT:-60}
MPI_DEFAULT=${LOCAL_SLURM_MPI:-pmix}
DEFAULT_MUNGE_SOCKET=/run/munge/munge.socket.2

log() { echo "local-slurm: $*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  echo "usage: $0 start|stop STATE_DIR" >&2
  exit 2
}

# ---------------------------------------------------------------- PID helpers

# pid_of NAME -> prints the recorded PID of daemon NAME if it is alive and
# still one of ours (its command line mentions STATE_DIR), else nothing.
pid_of() {
  local f="$STATE/pids/$1.pid" pid
  [[ -s $f ]] || return 0
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  [[ -r /proc/$pid/cmdline ]] || return 0
  # Every daemon started here has a path under STATE_DIR on its command line.
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STATE/"; then
    echo "$pid"
  fi
}

# stop_pids NAME...: SIGTERM to each recorded daemon, wait up to 20 s for all
# of them, then SIGKILL whichever is left.
stop_pids() {
  local name pid i alive
  local -a pids=() names=()
  for name in "$@"; do
    pid=$(pid_of "$name")
    if [[ -n $pid ]]; then
      log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      names+=("$name")
    fi
  done
  for ((i = 0; i < 200; i++)); do
    alive=0
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null && alive=1
    done
    ((alive)) || break
    sleep 0.1
  done
  for i in "${!pids[@]}"; do
    pid=${pids[$i]}
    if kill -0 "$pid" 2>/dev/null; then
      log "${names[$i]} (pid $pid) did not exit after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for ((alive = 0; alive < 50; alive++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
    fi
  done
  for name in "$@"; do
    rm -f "$STATE/pids/$name.pid"
  done
}

# ---------------------------------------------------------------- misc helpers

# Is something listening on TCP port $1 on this machine? (State 0A is LISTEN;
# TIME_WAIT leftovers of an earlier run do not count, Slurm sets SO_REUSEADDR.)
port_busy() {
  local hex
  hex=$(printf '%04X' "$1")
  awk -v p=":$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# First pair of free consecutive ports at or above 6817 (Slurm's defaults).
pick_ports() {
  local p
  for ((p = 6817; p < 6917; p += 2)); do
    if ! port_busy "$p" && ! port_busy $((p + 1)); then
      echo "$p $((p + 1))"
      return 0
    fi
  done
  die "no free port pair in 6817..6916"
}

munge_works() { # socket
  [[ -S $1 ]] || return 1
  command -v munge >/dev/null && command -v unmunge >/dev/null || return 1
  munge --socket="$1" -n 2>/dev/null | unmunge --socket="$1" >/dev/null 2>&1
}

show_logs() {
  local f
  for f in "$STATE"/log/*.log "$STATE"/log/*.out; do
    [[ -s $f ]] || continue
    echo "----- tail $f -----" >&2
    tail -n 30 "$f" >&2
  done
}

# ---------------------------------------------------------------- start

write_conf() {
  local node cpus mem_kb mem_mb ctld_port d_port munge_socket run
  node=$(hostname -s)
  cpus=$(nproc)
  mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
  mem_mb=$((mem_kb * 9 / 10 / 1024)) # leave slack, or slurmd registers as invalid
  read -r ctld_port d_port < <(pick_ports)
  munge_socket=$(<"$STATE/munge_socket")
  run=$(runtime_dir)

  cat >"$STATE/slurm.conf" <<EOF
# Generated by jobs/local-slurm.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ). Single node, root only.
ClusterName=twinflow-local
SlurmctldHost=$node
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge_socket
StateSaveLocation=$STATE/ctld-state
SlurmdSpoolDir=$run/spool
SlurmctldPidFile=$STATE/pids/slurmctld.daemon.pid
SlurmdPidFile=$STATE/pids/slurmd.daemon.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
PlugStackConfig=$STATE/plugstack.conf
MpiDefault=$MPI_DEFAULT
ReturnToService=2
SchedulerType=sched/backfill
MailProg=/bin/true
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$node CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
  # Keep /etc/slurm/plugstack.conf (SPANK plugins of the host) out of this cluster.
  : >"$STATE/plugstack.conf"
}

# Slurmd, slurmstepd and the PMIx plugin put UNIX sockets under SlurmdSpoolDir,
# and munged its socket under STATE_DIR; socket paths are limited to 107 bytes.
# With a long STATE_DIR those go to a short directory in /tmp instead, whose
# name is recorded in STATE_DIR/runtime_dir (and removed again by `stop`).
runtime_dir() {
  if [[ -s $STATE/runtime_dir ]]; then
    cat "$STATE/runtime_dir"
  elif ((${#STATE} > 40)); then
    mktemp -d /tmp/twinflow-slurm.XXXXXX | tee "$STATE/runtime_dir"
  else
    echo "$STATE"
  fi
}

start_munged() {
  if [[ -n $(pid_of munged) ]]; then
    return 0
  fi
  if [[ ! -s $STATE/munge_socket ]] && munge_works "$DEFAULT_MUNGE_SOCKET"; then
    log "using the munged already running on $DEFAULT_MUNGE_SOCKET"
    echo "$DEFAULT_MUNGE_SOCKET" >"$STATE/munge_socket"
    return 0
  fi
  if [[ -s $STATE/munge_socket && $(<"$STATE/munge_socket") == "$DEFAULT_MUNGE_SOCKET" ]]; then
    munge_works "$DEFAULT_MUNGE_SOCKET" && return 0
    die "the system munged on $DEFAULT_MUNGE_SOCKET this cluster was set up with is gone; stop and use a fresh STATE_DIR"
  fi
  [[ -x $MUNGED ]] || die "munged not found ($MUNGED)"
  local run
  run=$(runtime_dir)
  mkdir -p "$STATE/munge" "$run/munge"
  chmod 700 "$STATE/munge" "$run/munge"
  if [[ ! -s $STATE/munge/munge.key ]]; then
    if command -v mungekey >/dev/null; then
      mungekey --create --keyfile="$STATE/munge/munge.key"
    else
      dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1 count=1024 status=none
    fi
  fi
  chmod 600 "$STATE/munge/munge.key"
  echo "$run/munge/munge.socket" >"$STATE/munge_socket"
  log "starting munged (socket $run/munge/munge.socket)"
  # -F: stay in the foreground so that $! is the daemon itself. All fds are
  # redirected so that a caller capturing our stdout does not wait on them.
  "$MUNGED" -F --force \
    --key-file="$STATE/munge/munge.key" \
    --socket="$run/munge/munge.socket" \
    --pid-file="$STATE/munge/munged.pid" \
    --seed-file="$STATE/munge/munged.seed" \
    --log-file="$STATE/log/munged.log" \
    </dev/null >>"$STATE/log/munged.out" 2>&1 &
  local munged_pid=$! i
  echo "$munged_pid" >"$STATE/pids/munged.pid"
  for ((i = 0; i < 100; i++)); do
    munge_works "$run/munge/munge.socket" && return 0
    # Whether it is still running, not pid_of: right after the fork the
    # child may not have exec'd munged yet, so its command line is ours.
    kill -0 "$munged_pid" 2>/dev/null || break
    sleep 0.1
  done
  show_logs
  cat "$STATE/log/munged.out" >&2 || true
  die "munged did not come up"
}

start_daemon() { # name binary
  local name=$1 bin=$2
  if [[ -n $(pid_of "$name") ]]; then
    return 0
  fi
  [[ -x $bin ]] || die "$name not found ($bin)"
  log "starting $name"
  # -D: foreground, so $! is the daemon; stdout/stderr to a file (see munged).
  SLURM_CONF="$STATE/slurm.conf" "$bin" -D -f "$STATE/slurm.conf" \
    </dev/null >>"$STATE/log/$name.out" 2>&1 &
  echo $! >"$STATE/pids/$name.pid"
}

wait_idle() {
  local node state="" deadline name
  node=$(hostname -s)
  deadline=$((SECONDS + TIMEOUT))
  while ((SECONDS < deadline)); do
    for name in munged slurmctld slurmd; do
      if [[ -f $STATE/pids/$name.pid && -z $(pid_of "$name") ]]; then
        show_logs
        die "$name exited during start-up (logs above, STATE_DIR=$STATE)"
      fi
    done
    state=$(SLURM_CONF="$STATE/slurm.conf" sinfo -h -n "$node" -o '%t' 2>/dev/null | head -n 1 || true)
    case $state in
      idle | mix | alloc)
        log "node $node is $state"
        return 0
        ;;
      inval* | drain*) # the node registered but does not match slurm.conf
        show_logs
        SLURM_CONF="$STATE/slurm.conf" sinfo -N -l -R >&2 || true
        die "node $node is '$state' (logs above, STATE_DIR=$STATE)"
        ;;
    esac
    sleep 0.5
  done
  show_logs
  SLURM_CONF="$STATE/slurm.conf" sinfo -N -l >&2 || true
  die "node $node not idle after ${TIMEOUT}s (last state '${state}'; logs above, STATE_DIR=$STATE)"
}

cmd_start() {
  [[ $(id -u) == 0 ]] || die "must run as root (SlurmUser=root)"
  command -v sinfo >/dev/null || die "sinfo not found (package slurm-client)"
  mkdir -p "$STATE"
  STATE=$(cd "$STATE" && pwd -P)
  mkdir -p "$STATE/pids" "$STATE/log" "$STATE/ctld-state"

  local running=0 name
  for name in slurmctld slurmd; do
    [[ -n $(pid_of "$name") ]] && running=1
  done
  if ((running == 0)); then
    # If this start fails, take down again what it brought up.
    trap 'rc=$?; if ((rc != 0)); then log "start failed; stopping what it started"; cmd_stop || true; fi' EXIT
    # Nothing of ours is up: (re)write the config with free ports. A munged
    # left from an earlier start keeps running with the same key and socket.
    [[ -n $(pid_of munged) ]] || rm -f "$STATE/munge_socket"
    start_munged
    write_conf
    mkdir -p "$(runtime_dir)/spool"
  else
    log "daemons already running in $STATE; checking them"
    [[ -f $STATE/slurm.conf ]] || die "daemons running but $STATE/slurm.conf is missing"
    start_munged
  fi
  start_daemon slurmctld "$SLURMCTLD"
  start_daemon slurmd "$SLURMD"
  wait_idle
  trap - EXIT
  echo "export SLURM_CONF=$STATE/slurm.conf"
}

# ---------------------------------------------------------------- stop

cmd_stop() {
  if [[ ! -d $STATE ]]; then
    log "$STATE does not exist; nothing to stop"
    return 0
  fi
  STATE=$(cd "$STATE" && pwd -P)
  # Cancel what is still queued or running, so that no job steps outlive
  # slurmd. Everything in this cluster was submitted against this STATE_DIR.
  if [[ -n $(pid_of slurmctld) && -f $STATE/slurm.conf ]]; then
    local jobs i
    jobs=$(SLURM_CONF="$STATE/slurm.conf" timeout 10 squeue -h -o '%i' 2>/dev/null || true)
    if [[ -n $jobs ]]; then
      log "cancelling jobs: $(tr '\n' ' ' <<<"$jobs")"
      # shellcheck disable=SC2086
      SLURM_CONF="$STATE/slurm.conf" timeout 10 scancel $jobs 2>/dev/null || true
      for ((i = 0; i < 30; i++)); do
        [[ -z $(SLURM_CONF="$STATE/slurm.conf" timeout 10 squeue -h -o '%i' -t R,CG,PD 2>/dev/null || true) ]] && break
        sleep 0.5
      done
    fi
  fi
  stop_pids slurmd slurmctld
  stop_pids munged
  if [[ -s $STATE/runtime_dir ]]; then
    local run
    run=$(<"$STATE/runtime_dir")
    if [[ $run == /tmp/twinflow-slurm.* && -d $run ]]; then
      rm -rf -- "$run"
    fi
    rm -f "$STATE/runtime_dir"
  fi
  log "stopped; logs and state left in $STATE"
}

# ---------------------------------------------------------------- main

[[ $# -eq 2 ]] || usage
STATE=$2
case $1 in
  start) cmd_start ;;
  stop) cmd_stop ;;
  *) usage ;;
esac
