#!/usr/bin/env bash
# Brings the whole Forge Queue system up on this machine as plain processes on loopback:
# RabbitMQ, PostgreSQL, forge-sim (unless FORGE_URL points at a real Forge), the api-gateway and
# FQ_WORKERS gpu-workers (default 2). Running it again is harmless: what already runs is kept.
# Prints the web page's URL, the local API key, how to reach the admin API (its token is in .run/local/admin-token)
# and where the logs are. Stop with infra/local/down.sh.
#
# Environment (all optional):
#   FORGE_URL          a real Forge (e.g. http://gpu-box:7860); forge-sim is not started then
#   FORGE_USERNAME / FORGE_PASSWORD   Basic auth for a Forge started with --api-auth
#   FQ_WORKERS         number of gpu-worker processes (default 2; each is one GPU slot)
#   FQ_GATEWAY_PORT    gateway HTTP port (default 8080); workers' actuator ports start at 8091
#   FQ_FORGE_SIM_PORT  forge-sim port (default 7861); FQ_FORGE_SIM_STEP_MS time per step (default 100)
#   FQ_RABBIT_PORT / FQ_PG_PORT   broker and database ports (defaults 5701 / 55432)
#   FQ_SKIP_BUILD=1    do not (re)build the jars
#   FQ_JAVA_OPTS       extra JVM options for the apps
#   FQ_PROMETHEUS=1    also start Prometheus (infra/local/prometheus.sh) on http://localhost:9090
set -euo pipefail

FQ_SERVICE=up
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/apps.sh
source "$FQ_LOCAL_DIR/lib/apps.sh"

WORKERS=${FQ_WORKERS:-2}
[[ $WORKERS =~ ^[0-9]+$ ]] && ((WORKERS >= 1 && WORKERS <= 16)) || fq_die "FQ_WORKERS must be 1-16, got '$WORKERS'"
GATEWAY_PORT=${FQ_GATEWAY_PORT:-8080}
SIM_PORT=${FQ_FORGE_SIM_PORT:-7861}
SIM_STEP_MS=${FQ_FORGE_SIM_STEP_MS:-100}
export FQ_RABBIT_PORT=${FQ_RABBIT_PORT:-5701}
export FQ_PG_PORT=${FQ_PG_PORT:-55432}
export FQ_PG_DB=${FQ_PG_DB:-forgequeue}
started=$(fq_now)

command -v java > /dev/null || fq_die "Java 17 or newer is required (Debian: apt-get install openjdk-17-jre-headless)"

fq_build_jars_if_needed

"$FQ_LOCAL_DIR/rabbitmq.sh" start
"$FQ_LOCAL_DIR/postgres.sh" start

API_KEY=$(fq_local_api_key)
ADMIN_TOKEN=$(fq_local_admin_token)
rabbit_addr="127.0.0.1:$FQ_RABBIT_PORT"
jdbc_url="jdbc:postgresql://127.0.0.1:$FQ_PG_PORT/$FQ_PG_DB"

if [[ -n ${FORGE_URL:-} ]]; then
  forge_url=$FORGE_URL
  fq_log "using the Forge at $forge_url (FORGE_URL); forge-sim is not started"
else
  forge_url="http://127.0.0.1:$SIM_PORT"
  fq_start_app forge-sim "$FQ_FORGE_SIM_JAR" "$forge_url/sdapi/v1/progress?skip_current_image=true" \
    -- --port "$SIM_PORT" --step-ms "$SIM_STEP_MS"
fi

# The web page offers the samplers and checkpoints this Forge has; the gateway refuses others up front.
samplers=$(fq_forge_names "$forge_url/sdapi/v1/samplers" name)
checkpoints=$(fq_forge_names "$forge_url/sdapi/v1/sd-models" model_name)

fq_start_app gateway "$FQ_GATEWAY_JAR" "http://127.0.0.1:$GATEWAY_PORT/actuator/health/readiness" -- \
  env SERVER_PORT="$GATEWAY_PORT" GATEWAY_INSTANCE_ID=gateway-1 GATEWAY_BOOTSTRAP_API_KEY="$API_KEY" \
  GATEWAY_ADMIN_TOKENS="$ADMIN_TOKEN" \
  SPRING_RABBITMQ_ADDRESSES="$rabbit_addr" SPRING_RABBITMQ_USERNAME=guest SPRING_RABBITMQ_PASSWORD=guest \
  SPRING_DATASOURCE_URL="$jdbc_url" SPRING_DATASOURCE_USERNAME=postgres SPRING_DATASOURCE_PASSWORD= \
  GATEWAY_JOBS_SAMPLERS="$samplers" GATEWAY_JOBS_CHECKPOINTS="$checkpoints"

for ((i = 1; i <= WORKERS; i++)); do
  port=$((8090 + i))
  fq_start_app "worker-$i" "$FQ_WORKER_JAR" "http://127.0.0.1:$port/actuator/health/readiness" -- \
    env SERVER_PORT="$port" WORKER_ID="worker-$i" WORKER_POOL=default FORGE_URL="$forge_url" \
    FORGE_USERNAME="${FORGE_USERNAME:-}" FORGE_PASSWORD="${FORGE_PASSWORD:-}" \
    SPRING_RABBITMQ_ADDRESSES="$rabbit_addr" SPRING_RABBITMQ_USERNAME=guest SPRING_RABBITMQ_PASSWORD=guest
done

if [[ ${FQ_PROMETHEUS:-} == 1 ]]; then
  "$FQ_LOCAL_DIR/prometheus.sh" start
fi

cat <<MSG

Forge Queue is up ($(fq_since "$started") s).
  Web page:      http://localhost:$GATEWAY_PORT/#key=$API_KEY
  API key:       $API_KEY   (also in $FQ_APP_DIR/api-key)
  REST API:      curl -H "Authorization: Bearer $API_KEY" http://localhost:$GATEWAY_PORT/api/v1/queue
  Admin API:     curl -H "Authorization: Bearer \$(cat $FQ_APP_DIR/admin-token)" http://localhost:$GATEWAY_PORT/api/v1/admin/keys
  Forge:         $forge_url
  Workers:       $WORKERS (actuator on ports 8091..$((8090 + WORKERS)))
  RabbitMQ UI:   http://localhost:$((FQ_RABBIT_PORT + 10000))/  (guest/guest)
  Metrics:       http://localhost:$GATEWAY_PORT/actuator/prometheus, http://localhost:8091/actuator/prometheus
  Logs:          $FQ_APP_DIR/logs/
  Stop:          infra/local/down.sh
MSG
if [[ ${FQ_PROMETHEUS:-} == 1 ]]; then
  echo "  Prometheus:    http://localhost:${FQ_PROMETHEUS_PORT:-9090}/  (alerts: /alerts, targets: /targets)"
fi
