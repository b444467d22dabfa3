#!/usr/bin/env bash
# Stops what infra/local/up.sh started: the workers first (they give back a running job), then the
# gateway, the forge-sims, Prometheus (if infra/local/prometheus.sh started it), PostgreSQL and RabbitMQ.
# Processes it did not start are left alone.
# FQ_KEEP_SERVERS=1 keeps RabbitMQ and PostgreSQL running (and their data in every case).
# A system started with its own FQ_RUN_DIR, FQ_RABBIT_PORT or FQ_PG_PORT is stopped with the same values (up.sh
# prints the command).
set -euo pipefail

FQ_SERVICE=down
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/apps.sh
source "$FQ_LOCAL_DIR/lib/apps.sh"
export FQ_RABBIT_PORT=${FQ_RABBIT_PORT:-5701}
export FQ_PG_PORT=${FQ_PG_PORT:-55432}

shopt -s nullglob
for pidfile in "$FQ_APP_DIR"/pids/worker-*.pid; do
  fq_stop_app "$(basename "$pidfile" .pid)"
done
fq_stop_app gateway
for pidfile in "$FQ_APP_DIR"/pids/forge-sim*.pid; do
  fq_stop_app "$(basename "$pidfile" .pid)"
done
if [[ -f $FQ_RUN_DIR/prometheus.pid ]]; then
  "$FQ_LOCAL_DIR/prometheus.sh" stop
fi
if [[ ${FQ_KEEP_SERVERS:-} != 1 ]]; then
  "$FQ_LOCAL_DIR/postgres.sh" stop
  "$FQ_LOCAL_DIR/rabbitmq.sh" stop
fi
fq_log "stopped"
