# shellcheck shell=bash
# Shared helpers for infra/local/*.sh. Sourced, never executed.
#
# Callers set FQ_SERVICE (used as the log prefix) before sourcing.

FQ_LOCAL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FQ_ROOT=$(cd "$FQ_LOCAL_DIR/../.." && pwd)
FQ_RUN_DIR=${FQ_RUN_DIR:-$FQ_ROOT/.run}
# Make FQ_RUN_DIR absolute so that nothing depends on the caller's working directory.
case "$FQ_RUN_DIR" in
  /*) ;;
  *) FQ_RUN_DIR=$PWD/$FQ_RUN_DIR ;;
esac
FQ_LOCK_TIMEOUT=${FQ_LOCK_TIMEOUT:-300}

fq_log() { printf '[%s] %s\n' "$FQ_SERVICE" "$*"; }
fq_warn() { printf '[%s] WARNING: %s\n' "$FQ_SERVICE" "$*" >&2; }
fq_die() {
  printf '[%s] ERROR: %s\n' "$FQ_SERVICE" "$*" >&2
  exit 1
}

fq_now() { date +%s.%N; }
# Seconds since $1 (a value of fq_now), one decimal.
fq_since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

fq_require_port() {
  local name=$1 value=$2
  if [[ ! $value =~ ^[0-9]+$ ]] || ((value < 1 || value > 65535)); then
    fq_die "$name must be a TCP port (1-65535), got '$value'"
  fi
}

# True when something listens on 127.0.0.1:$1 or on a wildcard address with that port.
fq_port_in_use() {
  local port=$1
  if command -v ss > /dev/null 2>&1; then
    [[ -n $(ss -Hltn "sport = :$port" 2> /dev/null) ]]
  else
    (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null
  fi
}

# Inodes of the sockets listening on TCP port $1 (IPv4 and IPv6), one a line, read from /proc/net/tcp{,6}.
fq_listen_inodes() {
  local port_hex files=() f
  port_hex=$(printf '%04X' "$1")
  for f in /proc/net/tcp /proc/net/tcp6; do
    [[ -r $f ]] && files+=("$f")
  done
  ((${#files[@]} > 0)) || return 0
  # Columns: sl local_address rem_address st ... inode (10th); st 0A = LISTEN; the port is the hex after the last ':'.
  awk -v port="$port_hex" 'FNR > 1 && $4 == "0A" { n = split($2, a, ":"); if (a[n] == port) print $10 }' "${files[@]}"
}

# Who listens on TCP port $2, judged from one look at the sockets: "self" (process $1 holds a listening socket on
# it, so an answer on that port comes from that process), "other" (only other processes do) or "none".
fq_port_holder() {
  local pid=$1 port=$2 inodes links inode
  inodes=$(fq_listen_inodes "$port")
  if [[ -z $inodes ]]; then
    echo none
    return 0
  fi
  links=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2> /dev/null || true)
  for inode in $inodes; do
    if grep -qxF "socket:[$inode]" <<< "$links"; then
      echo self
      return 0
    fi
  done
  echo other
}

# The processes listening on TCP port $1, for messages: "pid 123 (java -jar ...)", several separated by "; ",
# "an unknown process" when none is found (scans every process: not for loops).
fq_port_owners() {
  local inode pid cmd out=()
  for pid in $(for inode in $(fq_listen_inodes "$1"); do
    find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 -lname "socket:\[$inode\]" 2> /dev/null | cut -d/ -f3
  done | sort -un); do
    cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | cut -c1-120)
    out+=("pid $pid (${cmd% })")
  done
  if ((${#out[@]} == 0)); then
    echo "an unknown process"
  else
    local joined
    joined=$(printf '%s; ' "${out[@]}")
    echo "${joined%; }"
  fi
}

# True when pid $1 is alive and its command line contains $2 (guards against pid reuse).
fq_pid_matches() {
  local pid=$1 needle=$2
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -qF -- "$needle"
}

# Serialises start/stop/reset of one server across processes. The lock is held on fd 9 until
# the script exits. Anything launched while holding it must close fd 9 (9>&-) or the server
# would keep the lock for its whole life.
fq_lock() {
  local file=$1
  mkdir -p "$(dirname "$file")"
  if [[ -e $file && ! -w $file ]]; then
    exec 9< "$file" # made by another user (root): flock works on a read-only descriptor too
  else
    exec 9>> "$file"
  fi
  if ! flock -n 9; then
    fq_log "waiting for lock $file (another start/stop is in progress)"
    flock -w "$FQ_LOCK_TIMEOUT" 9 || fq_die "could not get lock $file within ${FQ_LOCK_TIMEOUT}s"
  fi
}

# apt-get install that never starts the packaged services (they would grab the default ports):
# a temporary policy-rc.d denies invoke-rc.d, as in Docker images.
fq_apt_install() {
  [[ $EUID -eq 0 ]] || fq_die "installing $* needs root (run this script as root, or: sudo apt-get install $*)"
  command -v apt-get > /dev/null || fq_die "apt-get not found: install $* by hand"
  local policy=/usr/sbin/policy-rc.d created_policy=
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary, created by forge-queue infra/local\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    created_policy=yes
  fi
  local started rc=0
  started=$(fq_now)
  fq_log "installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  local apt_opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=300)
  if ! apt-get install "${apt_opts[@]}" "$@"; then
    fq_log "apt-get install failed; running apt-get update and retrying"
    apt-get update -q -o DPkg::Lock::Timeout=300 && apt-get install "${apt_opts[@]}" "$@" || rc=$?
  fi
  [[ -n $created_policy ]] && rm -f "$policy"
  ((rc == 0)) || fq_die "apt-get install $* failed (exit $rc)"
  fq_log "installed $* in $(fq_since "$started")s"
}
