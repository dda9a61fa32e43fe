# shellcheck shell=bash
# Helpers shared by the scripts in jobs/: where the twinflow binary and a
# suitable Python are. Sourced; defines functions only.

# twinflow_binary WHO CHECKOUT: prints the twinflow binary to use: $TWINFLOW,
# else `twinflow` on the PATH, else CHECKOUT/build/src/twinflow. If that is
# not an executable file, says so on stderr (lines prefixed with WHO) and
# returns 2.
twinflow_binary() {
  local who=$1 checkout=$2 twinflow
  if [[ -n ${TWINFLOW:-} ]]; then
    twinflow=$TWINFLOW
  elif command -v twinflow >/dev/null 2>&1; then
    twinflow=$(command -v twinflow)
  else
    twinflow=$checkout/build/src/twinflow
  fi
  if [[ ! -f $twinflow || ! -x $twinflow ]]; then
    echo "$who: twinflow binary not found or not executable: '$twinflow'" >&2
    if [[ -z ${TWINFLOW:-} ]]; then
      echo "$who: no 'twinflow' on the PATH either; set TWINFLOW=/path/to/twinflow (sbatch passes the environment on)" >&2
    fi
    return 2
  fi
  echo "$twinflow"
}

# twinflow_python WHO: prints a Python 3 that imports h5py, numpy and
# matplotlib: $TWINFLOW_PYTHON if set (and then only that one), else
# /usr/bin/python3, else python3 on the PATH. The first python3 on the PATH
# may be a separate interpreter without the distribution's packages, hence the
# order. If none qualifies, says so on stderr and returns 2.
twinflow_python() {
  local who=$1 py
  local -a candidates=(/usr/bin/python3 python3)
  [[ -n ${TWINFLOW_PYTHON:-} ]] && candidates=("$TWINFLOW_PYTHON")
  for py in "${candidates[@]}"; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import h5py, numpy, matplotlib' >/dev/null 2>&1; then
      command -v "$py"
      return 0
    fi
  done
  echo "$who: no Python 3 that imports h5py, numpy and matplotlib among: ${candidates[*]}" \
    "(Debian packages python3-h5py python3-matplotlib; or set TWINFLOW_PYTHON=/path/to/python3)" >&2
  return 2
}

# twinflow_family ARGS...: prints the family a `twinflow run ARGS...` runs:
# --family=NAME (or --family NAME) among the arguments, else `family = NAME`
# in the config file among them (top level or [general]), else ou.
twinflow_family() {
  local a prev= file= family=
  for a in "$@"; do
    case $a in
      --family=*) family=${a#--family=} ;;
      -*) ;;
      *) [[ $prev == --family ]] && family=$a || { [[ -z $file && -f $a ]] && file=$a; } ;;
    esac
    prev=$a
  done
  if [[ -z $family && -n $file ]]; then
    family=$(awk -F= '/^\[/ { section = $0 } (section == "" || section == "[general]") && $1 ~ /^[ \t]*family[ \t]*$/ { gsub(/[ \t]/, "", $2); print $2; exit }' "$file")
  fi
  echo "${family:-ou}"
}
