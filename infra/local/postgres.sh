#!/usr/bin/env bash
# A private PostgreSQL 15 cluster run as a plain process (no systemd, no Docker), on 127.0.0.1.
#
# Usage: infra/local/postgres.sh {install|start|stop|status|reset|env}
#   install  apt-get install postgresql-15 if no initdb is found (needs root)
#   start    install if needed, initdb on first use, start, create $FQ_PG_DB if missing;
#            prints "already running" and exits 0 when it is up already
#   stop     fast shutdown of this cluster (pg_ctl -m fast, falling back to immediate, then SIGKILL)
#   status   exit 0 when the cluster is up and accepts connections (prints port), 1 when it runs
#            but does not answer, 3 when it is not running
#   reset    stop, then delete the cluster's directory
#   env      print export lines (SPRING_DATASOURCE_*) for the cluster, for scripts that start apps
#
# Environment:
#   FQ_RUN_DIR   where state lives (default <repo>/.run); the cluster uses $FQ_RUN_DIR/postgres/pg<port>/
#   FQ_PG_PORT   TCP port (default 55432)
#   FQ_PG_DB     database created on start if missing (default forgequeue)
#   FQ_PG_DURABLE  on (default) | off. "off" sets fsync=off and full_page_writes=off: faster, and
#                only an operating-system crash (not a PostgreSQL crash or kill) can lose data.
#                The test harness uses off.
#   FQ_PG_MAX_CONNECTIONS  (default 300)
#   FQ_PG_BIN    directory holding initdb/pg_ctl (default: /usr/lib/postgresql/15/bin, else newest)
#
# User postgres, trust authentication, listening on 127.0.0.1 only (the unix socket lives in the
# cluster directory). As root, the server runs as the system user postgres (initdb refuses root);
# the cluster directory is chowned to it.
# Measured (2 vCPU, PostgreSQL 15.18): first start 0.7 s (initdb 0.4-0.5 s, start, CREATE DATABASE); later
# starts 0.1-0.3 s; "already running" 0.03 s; stop (fast shutdown) 0.1 s.
set -euo pipefail

FQ_SERVICE=postgres
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

PORT=${FQ_PG_PORT:-55432}
fq_require_port FQ_PG_PORT "$PORT"
DB=${FQ_PG_DB:-forgequeue}
[[ $DB =~ ^[a-z_][a-z0-9_]*$ ]] || fq_die "FQ_PG_DB must be a lower-case SQL identifier, got '$DB'"
DURABLE=${FQ_PG_DURABLE:-on}
[[ $DURABLE == on || $DURABLE == off ]] || fq_die "FQ_PG_DURABLE must be on or off, got '$DURABLE'"
MAX_CONNECTIONS=${FQ_PG_MAX_CONNECTIONS:-300}

CLUSTER_DIR=$FQ_RUN_DIR/postgres/pg$PORT
DATA_DIR=$CLUSTER_DIR/data
LOG_FILE=$CLUSTER_DIR/postgres.log
LOCK_FILE=$FQ_RUN_DIR/postgres-pg$PORT.lock
PID_FILE=$DATA_DIR/postmaster.pid
# Unix socket paths are limited to 107 bytes; without room, TCP only.
SOCKET_DIR=$CLUSTER_DIR
((${#SOCKET_DIR} + 20 < 107)) || SOCKET_DIR=

find_pg_bin() {
  if [[ -n ${FQ_PG_BIN:-} ]]; then
    echo "$FQ_PG_BIN"
    return
  fi
  if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
    echo /usr/lib/postgresql/15/bin
    return
  fi
  local newest
  newest=$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n 1 || true)
  if [[ -n $newest && -x $newest/initdb ]]; then
    echo "$newest"
    return
  fi
  local initdb
  initdb=$(command -v initdb 2> /dev/null || true)
  [[ -n $initdb ]] && dirname "$(readlink -f "$initdb")"
  return 0
}

PG_BIN=$(find_pg_bin)

# Runs a server binary as the owner of the cluster: user postgres when we are root.
as_pg() {
  if [[ $EUID -eq 0 ]]; then
    (cd "$CLUSTER_DIR" && runuser -u postgres -- "$@")
  else
    (cd "$CLUSTER_DIR" && "$@")
  fi
}

psql_admin() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres "$@"
}

print_endpoints() {
  fq_log "cluster on 127.0.0.1:$PORT (user postgres, trust), database $DB: jdbc:postgresql://127.0.0.1:$PORT/$DB"
  fq_log "data $DATA_DIR; log $LOG_FILE"
}

# pid of the running postmaster of this cluster, empty if none.
server_pid() {
  local pid
  [[ -f $PID_FILE ]] || return 0
  pid=$(head -n 1 "$PID_FILE" | tr -dc '0-9')
  if fq_pid_matches "$pid" "$DATA_DIR"; then echo "$pid"; fi
}

# pids of live processes whose working directory is this cluster's data directory.
cluster_processes() {
  local dir pid
  for dir in /proc/[0-9]*; do
    [[ $(readlink "$dir/cwd" 2> /dev/null) == "$DATA_DIR" ]] || continue
    pid=${dir#/proc/}
    grep -q '^State:[[:space:]]*Z' "$dir/status" 2> /dev/null || printf '%s ' "$pid"
  done
}

# Called only while no postmaster of this cluster runs. postgres refuses to start while the pid
# in postmaster.pid or in the socket lock file is alive, and that pid may meanwhile belong to an
# unreaped zombie or to an unrelated process.
remove_stale_lock_files() {
  # Children of a killed postmaster exit on their own within moments; until they have, the old
  # shared memory is in use and the lock files must stay (postgres' own guard against two servers
  # on one data directory). Every server process has the data directory as its working directory.
  local orphans deadline=$((SECONDS + 10))
  while orphans=$(cluster_processes) && [[ -n $orphans ]]; do
    ((SECONDS < deadline)) || fq_die "processes $orphans still use $DATA_DIR without a postmaster; stop them first"
    sleep 0.2
  done
  if [[ -f $PID_FILE ]]; then
    fq_log "removing stale pid file $PID_FILE (process gone)"
    rm -f "$PID_FILE"
  fi
  if [[ -n $SOCKET_DIR && -e $SOCKET_DIR/.s.PGSQL.$PORT.lock ]]; then
    rm -f "$SOCKET_DIR/.s.PGSQL.$PORT.lock" "$SOCKET_DIR/.s.PGSQL.$PORT"
  fi
}

reachable() {
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -t 3
}

cmd_install() {
  if [[ -n $PG_BIN && -x $PG_BIN/initdb && -x $PG_BIN/psql ]]; then
    return 0
  fi
  fq_apt_install postgresql-15
  PG_BIN=$(find_pg_bin)
  [[ -n $PG_BIN && -x $PG_BIN/initdb ]] || fq_die "postgresql-15 installed but initdb was not found"
}

init_cluster() {
  mkdir -p "$CLUSTER_DIR"
  if [[ $EUID -eq 0 ]]; then
    id postgres > /dev/null 2>&1 || fq_die "user postgres does not exist (it comes with the postgresql-15 package)"
    chown postgres: "$CLUSTER_DIR"
    runuser -u postgres -- test -w "$CLUSTER_DIR" \
      || fq_die "user postgres cannot reach $CLUSTER_DIR (a parent directory is not traversable); set FQ_RUN_DIR elsewhere"
  fi
  local started
  started=$(fq_now)
  as_pg "$PG_BIN/initdb" -D "$DATA_DIR" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync \
    > "$CLUSTER_DIR/initdb.log" 2>&1 || { cat "$CLUSTER_DIR/initdb.log" >&2; fq_die "initdb failed"; }
  # Our settings live in an included file, rewritten on every start.
  echo "include_if_exists = 'forgequeue.conf'" >> "$DATA_DIR/postgresql.conf"
  fq_log "initialised cluster in $DATA_DIR in $(fq_since "$started")s"
}

write_settings() {
  local durable_settings=
  if [[ $DURABLE == off ]]; then
    durable_settings=$'fsync = off\nfull_page_writes = off'
  fi
  local file=$DATA_DIR/forgequeue.conf
  cat > "$file" << EOF
# Written by infra/local/postgres.sh on every start; edits are lost.
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCKET_DIR'
max_connections = $MAX_CONNECTIONS
$durable_settings
EOF
  [[ $EUID -eq 0 ]] && chown postgres: "$file"
  return 0
}

ensure_database() {
  local exists
  exists=$(psql_admin -tAc "select 1 from pg_database where datname = '$DB'")
  if [[ $exists != 1 ]]; then
    psql_admin -c "create database \"$DB\"" || fq_die "could not create database $DB"
    fq_log "created database $DB"
  fi
}

cmd_start() {
  cmd_install
  fq_lock "$LOCK_FILE"
  local started pid
  started=$(fq_now)
  if [[ -n $(server_pid) ]]; then
    local deadline=$((SECONDS + 60))
    until reachable; do
      ((SECONDS < deadline)) || fq_die "cluster (pid $(server_pid)) runs but does not accept connections on $PORT; see $LOG_FILE, then '$0 stop'"
      sleep 0.2
    done
    ensure_database
    fq_log "already running (pid $(server_pid))"
    print_endpoints
    return 0
  fi
  remove_stale_lock_files
  if fq_port_in_use "$PORT"; then
    fq_die "port $PORT is already in use by another process (not this cluster); choose another FQ_PG_PORT"
  fi
  [[ -f $DATA_DIR/PG_VERSION ]] || init_cluster
  write_settings
  # setsid: own session, so a Ctrl-C in the calling terminal does not reach the server.
  # 9>&-: the server must not inherit the start lock.
  if ! as_pg setsid -w "$PG_BIN/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t 60 start > "$CLUSTER_DIR/pg_ctl.log" 2>&1 9>&-; then
    tail -n 30 "$LOG_FILE" >&2 || true
    fq_die "pg_ctl start failed; see $LOG_FILE"
  fi
  ensure_database
  pid=$(server_pid)
  fq_log "started (pid ${pid:-?}) in $(fq_since "$started")s"
  print_endpoints
}

stop_server() {
  local pid started
  pid=$(server_pid)
  if [[ -z $pid ]]; then
    remove_stale_lock_files
    fq_log "cluster on port $PORT is not running"
    return 0
  fi
  started=$(fq_now)
  fq_log "stopping cluster on port $PORT (pid $pid)"
  if ! as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" -m fast -w -t 30 stop > "$CLUSTER_DIR/pg_ctl.log" 2>&1; then
    fq_warn "fast shutdown failed (see $CLUSTER_DIR/pg_ctl.log); trying immediate"
    if ! as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" -m immediate -w -t 15 stop >> "$CLUSTER_DIR/pg_ctl.log" 2>&1; then
      fq_warn "immediate shutdown failed; sending SIGKILL to $pid"
      kill -KILL "$pid" 2> /dev/null || true
      sleep 0.2
      remove_stale_lock_files
    fi
  fi
  fq_log "stopped in $(fq_since "$started")s"
}

cmd_stop() {
  fq_lock "$LOCK_FILE"
  stop_server
}

cmd_status() {
  local pid
  pid=$(server_pid)
  if [[ -z $pid ]]; then
    fq_log "cluster on port $PORT is not running (data $DATA_DIR)"
    [[ -f $PID_FILE ]] && fq_log "(stale pid file $PID_FILE; 'start' removes it)"
    return 3
  fi
  if reachable; then
    fq_log "cluster is running (pid $pid)"
    print_endpoints
    return 0
  fi
  fq_log "cluster runs (pid $pid) but does not accept connections on $PORT; see $LOG_FILE"
  return 1
}

cmd_reset() {
  fq_lock "$LOCK_FILE"
  stop_server
  rm -rf "$CLUSTER_DIR"
  fq_log "deleted $CLUSTER_DIR"
}

cmd_env() {
  cat << EOF
export SPRING_DATASOURCE_URL=jdbc:postgresql://127.0.0.1:$PORT/$DB
export SPRING_DATASOURCE_USERNAME=postgres
export SPRING_DATASOURCE_PASSWORD=
EOF
}

case "${1:-}" in
  install)
    cmd_install
    fq_log "PostgreSQL is installed ($PG_BIN)"
    ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  env) cmd_env ;;
  *)
    echo "usage: $0 {install|start|stop|status|reset|env}" >&2
    exit 2
    ;;
esac
