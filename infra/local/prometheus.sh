#!/usr/bin/env bash
# A private Prometheus run as a plain process (no systemd, no Docker), bound to 127.0.0.1, scraping the local
# system (gateway's management port 8081, workers 8091-8092, RabbitMQ 16701) with the alert rules of infra/prometheus/ loaded.
#
# Usage: infra/local/prometheus.sh {install|start|stop|status|check}
#   install  apt-get install prometheus if /usr/bin/prometheus or /usr/bin/promtool is missing (needs root).
#            The packaged service is never started (a temporary policy-rc.d denies it).
#   start    install if needed, check the configuration with promtool, start, wait until /-/ready answers;
#            prints "already running" and exits 0 when it is up already
#   stop     stop the Prometheus this script started (SIGTERM, SIGKILL after 30 s)
#   status   exit 0 when it runs and is ready (prints the URL), 1 when it runs but is not ready, 3 when it is
#            not running
#   check    promtool check config (which also checks the rule files it names); exit code of promtool
#
# Environment:
#   FQ_RUN_DIR                where state lives (default <repo>/.run): data in $FQ_RUN_DIR/prometheus/, pid file
#                             $FQ_RUN_DIR/prometheus.pid, log $FQ_RUN_DIR/prometheus.log
#   FQ_PROMETHEUS_PORT        HTTP port (default 9090), on 127.0.0.1 only
#   FQ_PROMETHEUS_CONFIG      configuration file (default infra/prometheus/prometheus.yml; its rule_files are
#                             resolved relative to it, so alerts.yml next to it is loaded)
#   FQ_PROMETHEUS_RETENTION   how long samples are kept (default 7d)
#   FQ_PROMETHEUS_START_TIMEOUT  seconds to wait for /-/ready (default 60)
#
# The scrape targets are static (infra/prometheus/prometheus.yml): a target that is not running simply shows
# as down (up == 0). Reload the configuration without a restart: curl -X POST http://127.0.0.1:9090/-/reload
set -euo pipefail

FQ_SERVICE=prometheus
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

PORT=${FQ_PROMETHEUS_PORT:-9090}
fq_require_port FQ_PROMETHEUS_PORT "$PORT"
CONFIG=${FQ_PROMETHEUS_CONFIG:-$FQ_ROOT/infra/prometheus/prometheus.yml}
RETENTION=${FQ_PROMETHEUS_RETENTION:-7d}
START_TIMEOUT=${FQ_PROMETHEUS_START_TIMEOUT:-60}
[[ $START_TIMEOUT =~ ^[0-9]+$ ]] || fq_die "FQ_PROMETHEUS_START_TIMEOUT must be a number of seconds, got '$START_TIMEOUT'"

PROMETHEUS_BIN=/usr/bin/prometheus
PROMTOOL_BIN=/usr/bin/promtool
DATA_DIR=$FQ_RUN_DIR/prometheus
PID_FILE=$FQ_RUN_DIR/prometheus.pid
LOG_FILE=$FQ_RUN_DIR/prometheus.log
LOCK_FILE=$FQ_RUN_DIR/prometheus.lock
URL=http://127.0.0.1:$PORT

# pid of the Prometheus this script started (from its pid file), empty if it is not running.
server_pid() {
  local pid
  [[ -f $PID_FILE ]] || return 0
  pid=$(tr -dc '0-9' < "$PID_FILE")
  # Our data directory is on its command line; a packaged or foreign Prometheus never matches.
  if fq_pid_matches "$pid" "--storage.tsdb.path=$DATA_DIR "; then echo "$pid"; fi
}

ready() {
  curl -fsS -o /dev/null --max-time 3 "$URL/-/ready" 2> /dev/null
}

cmd_install() {
  if [[ -x $PROMETHEUS_BIN && -x $PROMTOOL_BIN ]]; then
    return 0
  fi
  fq_apt_install prometheus
  [[ -x $PROMETHEUS_BIN && -x $PROMTOOL_BIN ]] || fq_die "prometheus installed but $PROMETHEUS_BIN or $PROMTOOL_BIN is missing"
}

cmd_check() {
  cmd_install
  [[ -f $CONFIG ]] || fq_die "configuration $CONFIG not found (FQ_PROMETHEUS_CONFIG)"
  "$PROMTOOL_BIN" check config "$CONFIG"
}

cmd_start() {
  cmd_install
  fq_lock "$LOCK_FILE"
  local started pid
  started=$(fq_now)
  pid=$(server_pid)
  if [[ -n $pid ]]; then
    if wait_until_ready 30; then
      fq_log "already running (pid $pid): $URL"
      return 0
    fi
    fq_die "Prometheus runs (pid $pid) but $URL/-/ready does not answer; see $LOG_FILE, then '$0 stop'"
  fi
  rm -f "$PID_FILE"
  if fq_port_in_use "$PORT"; then
    fq_die "port $PORT is already in use by another process (not the Prometheus of this script); choose another FQ_PROMETHEUS_PORT"
  fi
  [[ -f $CONFIG ]] || fq_die "configuration $CONFIG not found (FQ_PROMETHEUS_CONFIG)"
  local check_output
  if ! check_output=$("$PROMTOOL_BIN" check config "$CONFIG" 2>&1); then
    printf '%s\n' "$check_output" >&2
    fq_die "promtool check config $CONFIG failed; Prometheus not started"
  fi
  mkdir -p "$DATA_DIR"
  fq_log "starting Prometheus on $URL (config $CONFIG, data $DATA_DIR)"
  # setsid: own session, so a Ctrl-C in the calling terminal does not reach it. 9>&-: it must not inherit the lock.
  setsid nohup "$PROMETHEUS_BIN" \
    --config.file="$CONFIG" \
    --storage.tsdb.path="$DATA_DIR" \
    --storage.tsdb.retention.time="$RETENTION" \
    --web.listen-address="127.0.0.1:$PORT" \
    --web.enable-lifecycle \
    < /dev/null >> "$LOG_FILE" 2>&1 9>&- &
  pid=$!
  echo "$pid" > "$PID_FILE"
  local deadline=$((SECONDS + START_TIMEOUT))
  until ready; do
    if ! kill -0 "$pid" 2> /dev/null; then
      rm -f "$PID_FILE"
      tail -n 20 "$LOG_FILE" >&2 || true
      fq_die "Prometheus exited during start; see $LOG_FILE"
    fi
    if ((SECONDS >= deadline)); then
      fq_die "Prometheus did not become ready within ${START_TIMEOUT}s; it is left running for inspection: see $LOG_FILE, then '$0 stop'"
    fi
    sleep 0.2
  done
  fq_log "started (pid $pid) in $(fq_since "$started")s: $URL (targets $URL/targets, alerts $URL/alerts)"
}

wait_until_ready() {
  local deadline=$((SECONDS + $1))
  until ready; do
    [[ -n $(server_pid) ]] || return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

cmd_stop() {
  fq_lock "$LOCK_FILE"
  local pid started
  pid=$(server_pid)
  if [[ -z $pid ]]; then
    rm -f "$PID_FILE"
    fq_log "Prometheus is not running"
    return 0
  fi
  started=$(fq_now)
  fq_log "stopping Prometheus (pid $pid)"
  kill -TERM "$pid" 2> /dev/null || true
  local i
  for ((i = 0; i < 300; i++)); do
    [[ -n $(server_pid) ]] || break
    sleep 0.1
  done
  if [[ -n $(server_pid) ]]; then
    fq_warn "Prometheus still alive 30 s after SIGTERM; sending SIGKILL to $pid"
    kill -KILL "$pid" 2> /dev/null || true
    sleep 0.2
  fi
  rm -f "$PID_FILE"
  fq_log "stopped in $(fq_since "$started")s"
}

cmd_status() {
  local pid
  pid=$(server_pid)
  if [[ -z $pid ]]; then
    fq_log "Prometheus is not running (port $PORT)"
    return 3
  fi
  if ready; then
    fq_log "Prometheus is running (pid $pid): $URL"
    return 0
  fi
  fq_log "Prometheus runs (pid $pid) but $URL/-/ready does not answer; see $LOG_FILE"
  return 1
}

case "${1:-}" in
  install)
    cmd_install
    fq_log "prometheus is installed ($PROMETHEUS_BIN, $PROMTOOL_BIN)"
    ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  check) cmd_check ;;
  *)
    echo "usage: $0 {install|start|stop|status|check}" >&2
    exit 2
    ;;
esac
