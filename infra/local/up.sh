#!/usr/bin/env bash
# Brings the whole Forge Queue system up on this machine as plain processes on loopback:
# RabbitMQ, PostgreSQL, the api-gateway and FQ_WORKERS gpu-workers (default 2), each worker with a forge-sim of its
# own (one worker per Forge: Forge's progress, preview and interrupt are global to the Forge), or each with one of
# the real Forges given in FORGE_URLS / FORGE_URL. Running it again is harmless: what already runs is kept.
# Prints the web page's URL, the local API key, how to reach the admin API (its token is in .run/local/admin-token)
# and where the logs are. Stop with infra/local/down.sh.
#
# Environment (all optional):
#   FORGE_URL          one real Forge (e.g. http://gpu-box:7860): one worker drives it, no forge-sim is started
#   FORGE_URLS         several real Forges, comma-separated: one worker each (FQ_WORKERS then defaults to their
#                      number; asking for more workers than Forges is refused)
#   FORGE_USERNAME / FORGE_PASSWORD   Basic auth for Forges started with --api-auth (the same for all)
#   FQ_WORKERS         number of gpu-worker processes with forge-sims (default 2, at most 16)
#   FQ_GATEWAY_PORT    gateway HTTP port (default 8080)
#   FQ_GATEWAY_MANAGEMENT_PORT   the gateway's actuator port: health, Prometheus (default 8081; never on the public
#                      port)
#   FQ_WORKER_PORT     first worker's actuator port (default 8091); worker i uses FQ_WORKER_PORT + i - 1
#   FQ_FORGE_SIM_PORT  first forge-sim's port (default 7861); forge-sim i uses FQ_FORGE_SIM_PORT + 2(i - 1) and
#                      its admin API the port above; FQ_FORGE_SIM_STEP_MS time per step (default 100)
#   FQ_RABBIT_PORT / FQ_PG_PORT   broker and database ports (defaults 5701 / 55432)
#   FQ_RUN_DIR         where data, pid files and logs live (default <repo>/.run)
#   GATEWAY_BOOTSTRAP_API_KEY     your own API keys (comma-separated): the gateway accepts them besides the local
#                      key up.sh generates
#   FQ_SKIP_BUILD=1    do not (re)build the jars
#   FQ_JAVA_OPTS       extra JVM options for the apps
#   FQ_PROMETHEUS=1    also start Prometheus (infra/local/prometheus.sh) on http://localhost:9090 (it scrapes the
#                      default ports; see infra/prometheus/prometheus.yml)
#
# A second system on the same machine needs its own FQ_RUN_DIR and ports, e.g.
#   FQ_RUN_DIR=$PWD/.run/two FQ_GATEWAY_PORT=18080 FQ_GATEWAY_MANAGEMENT_PORT=18081 FQ_WORKER_PORT=18091 FQ_FORGE_SIM_PORT=18861 \
#     FQ_RABBIT_PORT=5721 FQ_PG_PORT=55442 infra/local/up.sh
# A port another process already listens on is refused, and an app counts as up only when the answer to its health
# probe comes from the very process up.sh started (its pid holds the port), never from another system's app.
set -euo pipefail

FQ_SERVICE=up
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/apps.sh
source "$FQ_LOCAL_DIR/lib/apps.sh"

GATEWAY_PORT=${FQ_GATEWAY_PORT:-8080}
GATEWAY_MANAGEMENT_PORT=${FQ_GATEWAY_MANAGEMENT_PORT:-8081}
SIM_STEP_MS=${FQ_FORGE_SIM_STEP_MS:-100}
export FQ_RABBIT_PORT=${FQ_RABBIT_PORT:-5701}
export FQ_PG_PORT=${FQ_PG_PORT:-55432}
export FQ_PG_DB=${FQ_PG_DB:-forgequeue}
# One line per worker: "NAME PORT FORGE_URL SIM_PORT" (checks the settings before anything starts).
layout=$(fq_worker_layout "$GATEWAY_PORT" "$GATEWAY_MANAGEMENT_PORT")
mapfile -t workers <<< "$layout"
# Every app's port, before anything starts: free, or held by the same app of this FQ_RUN_DIR.
fq_check_app_port gateway "$FQ_GATEWAY_JAR" "$GATEWAY_PORT"
for line in "${workers[@]}"; do
  read -r name port forge_url sim_port <<< "$line"
  fq_check_app_port "$name" "$FQ_WORKER_JAR" "$port"
  [[ $sim_port == - ]] || fq_check_app_port "forge-sim-${name#worker-}" "$FQ_FORGE_SIM_JAR" "$sim_port"
done
started=$(fq_now)

command -v java > /dev/null || fq_die "Java 17 or newer is required (Debian: apt-get install openjdk-17-jre-headless)"

fq_build_jars_if_needed

"$FQ_LOCAL_DIR/rabbitmq.sh" start
"$FQ_LOCAL_DIR/postgres.sh" start

# least privilege on the broker (README "Security"): the gateway and each worker get their own user, guest stays the
# operators' (the passwords are generated once into $FQ_RUN_DIR/rabbitmq/users/)
"$FQ_LOCAL_DIR/rabbitmq.sh" add-gateway-user fq-gateway
gateway_user_env=$("$FQ_LOCAL_DIR/rabbitmq.sh" user-env fq-gateway)
gateway_rabbit_password=$(sed -n 's/^export SPRING_RABBITMQ_PASSWORD=//p' <<< "$gateway_user_env")

API_KEY=$(fq_local_api_key)
ADMIN_TOKEN=$(fq_local_admin_token)
rabbit_addr="127.0.0.1:$FQ_RABBIT_PORT"
jdbc_url="jdbc:postgresql://127.0.0.1:$FQ_PG_PORT/$FQ_PG_DB"

forge_urls=()
for line in "${workers[@]}"; do
  read -r name port forge_url sim_port <<< "$line"
  forge_urls+=("$forge_url")
  if [[ $sim_port == - ]]; then
    fq_log "$name drives the Forge at $forge_url"
  else
    fq_start_app "forge-sim-${name#worker-}" "$FQ_FORGE_SIM_JAR" "$sim_port" \
      "/sdapi/v1/progress?skip_current_image=true" \
      -- --port "$sim_port" --admin-port "$((sim_port + 1))" --step-ms "$SIM_STEP_MS"
  fi
done

# The web page offers the samplers and checkpoints every Forge has; the gateway refuses others up front.
samplers=$(fq_forge_common_names /sdapi/v1/samplers name "${forge_urls[@]}")
checkpoints=$(fq_forge_common_names /sdapi/v1/sd-models model_name "${forge_urls[@]}")

# The operator's own keys (GATEWAY_BOOTSTRAP_API_KEY) stay valid; the local key is added to them.
FQ_HEALTH_PORT=$GATEWAY_MANAGEMENT_PORT fq_start_app gateway "$FQ_GATEWAY_JAR" "$GATEWAY_PORT" \
  /actuator/health/readiness -- \
  env SERVER_PORT="$GATEWAY_PORT" MANAGEMENT_SERVER_PORT="$GATEWAY_MANAGEMENT_PORT" GATEWAY_INSTANCE_ID=gateway-1 \
  GATEWAY_BOOTSTRAP_API_KEY="$(fq_merge_api_keys "$API_KEY" "${GATEWAY_BOOTSTRAP_API_KEY:-}")" \
  GATEWAY_ADMIN_TOKENS="$ADMIN_TOKEN" \
  SPRING_RABBITMQ_ADDRESSES="$rabbit_addr" SPRING_RABBITMQ_USERNAME=fq-gateway \
  SPRING_RABBITMQ_PASSWORD="$gateway_rabbit_password" \
  SPRING_DATASOURCE_URL="$jdbc_url" SPRING_DATASOURCE_USERNAME=postgres SPRING_DATASOURCE_PASSWORD= \
  GATEWAY_JOBS_SAMPLERS="$samplers" GATEWAY_JOBS_CHECKPOINTS="$checkpoints"

worker_summary=""
for line in "${workers[@]}"; do
  read -r name port forge_url sim_port <<< "$line"
  "$FQ_LOCAL_DIR/rabbitmq.sh" add-worker-user "$name" "$name"
  worker_rabbit_password=$(sed -n 's/^export SPRING_RABBITMQ_PASSWORD=//p' <<< "$("$FQ_LOCAL_DIR/rabbitmq.sh" user-env "$name")")
  fq_start_app "$name" "$FQ_WORKER_JAR" "$port" /actuator/health/readiness -- \
    env SERVER_PORT="$port" WORKER_ID="$name" WORKER_POOL=default FORGE_URL="$forge_url" \
    FORGE_USERNAME="${FORGE_USERNAME:-}" FORGE_PASSWORD="${FORGE_PASSWORD:-}" \
    SPRING_RABBITMQ_ADDRESSES="$rabbit_addr" SPRING_RABBITMQ_USERNAME="$name" \
    SPRING_RABBITMQ_PASSWORD="$worker_rabbit_password"
  worker_summary+=$'\n'"                 $name: actuator http://localhost:$port/actuator, Forge $forge_url"
done

if [[ ${FQ_PROMETHEUS:-} == 1 ]]; then
  if [[ $GATEWAY_MANAGEMENT_PORT != 8081 || ${FQ_WORKER_PORT:-8091} != 8091 || ${#workers[@]} -gt 2 || $FQ_RABBIT_PORT != 5701 ]]; then
    fq_warn "infra/prometheus/prometheus.yml scrapes the default ports (gateway 8081, workers 8091-8092, RabbitMQ \
16701); edit its targets for this system's ports"
  fi
  "$FQ_LOCAL_DIR/prometheus.sh" start
fi

read -r _ first_worker_port _ <<< "${workers[0]}"
# down.sh needs the same run directory and server ports to find what this run started.
stop_cmd=infra/local/down.sh
[[ $FQ_PG_PORT == 55432 ]] || stop_cmd="FQ_PG_PORT=$FQ_PG_PORT $stop_cmd"
[[ $FQ_RABBIT_PORT == 5701 ]] || stop_cmd="FQ_RABBIT_PORT=$FQ_RABBIT_PORT $stop_cmd"
[[ $FQ_RUN_DIR == "$FQ_ROOT/.run" ]] || stop_cmd="FQ_RUN_DIR=$FQ_RUN_DIR $stop_cmd"
cat <<MSG

Forge Queue is up ($(fq_since "$started") s).
  Web page:      http://localhost:$GATEWAY_PORT/#key=$API_KEY
  API key:       $API_KEY   (also in $FQ_APP_DIR/api-key)
  REST API:      curl -H "Authorization: Bearer $API_KEY" http://localhost:$GATEWAY_PORT/api/v1/queue
  Admin API:     curl -H "Authorization: Bearer \$(cat $FQ_APP_DIR/admin-token)" http://localhost:$GATEWAY_PORT/api/v1/admin/keys
  Workers:       ${#workers[@]}, one per Forge$worker_summary
  RabbitMQ UI:   http://localhost:$((FQ_RABBIT_PORT + 10000))/  (guest/guest)
  Metrics:       http://localhost:$GATEWAY_MANAGEMENT_PORT/actuator/prometheus, http://localhost:$first_worker_port/actuator/prometheus
  Logs:          $FQ_APP_DIR/logs/
  Stop:          $stop_cmd
MSG
if [[ ${FQ_PROMETHEUS:-} == 1 ]]; then
  echo "  Prometheus:    http://localhost:${FQ_PROMETHEUS_PORT:-9090}/  (alerts: /alerts, targets: /targets)"
fi
