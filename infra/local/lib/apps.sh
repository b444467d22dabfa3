# shellcheck shell=bash
# Starting and stopping the Forge Queue apps as background processes, for up.sh and down.sh.
# Sourced after lib/common.sh. Each app has a pid file and a log file under $FQ_APP_DIR.

FQ_APP_DIR=$FQ_RUN_DIR/local
FQ_GATEWAY_JAR=$FQ_ROOT/api-gateway/target/api-gateway-0.1.0-SNAPSHOT.jar
FQ_WORKER_JAR=$FQ_ROOT/gpu-worker/target/gpu-worker-0.1.0-SNAPSHOT.jar
FQ_FORGE_SIM_JAR=$FQ_ROOT/infra/forge-sim/target/forge-sim-0.1.0-SNAPSHOT.jar
FQ_APP_START_TIMEOUT=${FQ_APP_START_TIMEOUT:-120}

# Builds the jars when one is missing or a source file is newer than it (FQ_SKIP_BUILD=1 skips).
fq_build_jars_if_needed() {
  [[ ${FQ_SKIP_BUILD:-} == 1 ]] && return 0
  local jar stale=
  for jar in "$FQ_GATEWAY_JAR" "$FQ_WORKER_JAR" "$FQ_FORGE_SIM_JAR"; do
    if [[ ! -f $jar ]]; then
      stale=yes
      break
    fi
  done
  if [[ -z $stale ]]; then
    local oldest
    oldest=$(ls -t "$FQ_GATEWAY_JAR" "$FQ_WORKER_JAR" "$FQ_FORGE_SIM_JAR" | tail -n 1)
    if [[ -n $(find "$FQ_ROOT"/common-model "$FQ_ROOT"/api-gateway "$FQ_ROOT"/gpu-worker "$FQ_ROOT"/infra/forge-sim \
      \( -path '*/src/*' -o -name pom.xml \) -type f -newer "$oldest" -print -quit) ]]; then
      stale=yes
    fi
  fi
  if [[ -n $stale ]]; then
    local t
    t=$(fq_now)
    fq_log "building the jars (./mvnw -q -DskipTests package; the first build downloads dependencies)"
    (cd "$FQ_ROOT" && ./mvnw -q -DskipTests package -pl api-gateway,gpu-worker,infra/forge-sim -am) \
      || fq_die "the build failed; see the Maven output above"
    fq_log "built in $(fq_since "$t") s"
  fi
}

# Prints the local API key, creating a random one on first use.
fq_local_api_key() {
  local file=$FQ_APP_DIR/api-key
  mkdir -p "$FQ_APP_DIR"
  if [[ ! -s $file ]]; then
    (umask 077 && printf 'fq_local_%s\n' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$file")
  fi
  cat "$file"
}

# The local admin token of the admin API (created once, kept in .run/local/admin-token like the API key).
fq_local_admin_token() {
  local file=$FQ_APP_DIR/admin-token
  mkdir -p "$FQ_APP_DIR"
  if [[ ! -s $file ]]; then
    (umask 077 && printf 'fqadmin_local_%s\n' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$file")
  fi
  cat "$file"
}

fq_app_pid() {
  local pidfile=$FQ_APP_DIR/pids/$1.pid
  [[ -f $pidfile ]] || return 1
  local pid
  pid=$(cat "$pidfile")
  if fq_pid_matches "$pid" "$2"; then
    echo "$pid"
  else
    rm -f "$pidfile"
    return 1
  fi
}

# fq_start_app NAME JAR HEALTH_URL -- [env VAR=value ...] [app args...]
# Starts `java -jar JAR args` unless NAME already runs, then waits until HEALTH_URL answers 200.
fq_start_app() {
  local name=$1 jar=$2 health=$3
  shift 3
  [[ ${1:-} == -- ]] && shift
  local envs=() args=()
  if [[ ${1:-} == env ]]; then
    shift
    while [[ $# -gt 0 && $1 == *=* ]]; do
      envs+=("$1")
      shift
    done
  fi
  args=("$@")
  mkdir -p "$FQ_APP_DIR/pids" "$FQ_APP_DIR/logs"
  local log=$FQ_APP_DIR/logs/$name.log pid
  if pid=$(fq_app_pid "$name" "$jar"); then
    fq_log "$name already running (pid $pid)"
    return 0
  fi
  [[ -f $jar ]] || fq_die "$jar is missing: build with ./mvnw -DskipTests package"
  local t
  t=$(fq_now)
  # shellcheck disable=SC2086
  nohup env "${envs[@]}" java ${FQ_JAVA_OPTS:-} -jar "$jar" "${args[@]}" >> "$log" 2>&1 9>&- &
  pid=$!
  echo "$pid" > "$FQ_APP_DIR/pids/$name.pid"
  local deadline=$((SECONDS + FQ_APP_START_TIMEOUT))
  until curl -fs -o /dev/null --max-time 2 "$health"; do
    if ! kill -0 "$pid" 2> /dev/null; then
      rm -f "$FQ_APP_DIR/pids/$name.pid"
      tail -n 30 "$log" >&2 || true
      fq_die "$name exited during start; see $log"
    fi
    ((SECONDS < deadline)) || fq_die "$name did not become healthy within ${FQ_APP_START_TIMEOUT}s; see $log"
    sleep 0.5
  done
  fq_log "$name up in $(fq_since "$t") s (pid $pid, log $log)"
}

# Stops NAME gracefully (SIGTERM, then SIGKILL after 45 s) if up.sh started it.
fq_stop_app() {
  local name=$1 pidfile=$FQ_APP_DIR/pids/$1.pid pid
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile")
  if [[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -q -- '-jar'; then
    kill -TERM "$pid" 2> /dev/null || true
    local i
    for ((i = 0; i < 450; i++)); do
      kill -0 "$pid" 2> /dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2> /dev/null; then
      fq_warn "$name did not stop within 45 s; killing it"
      kill -KILL "$pid" 2> /dev/null || true
    fi
    fq_log "$name stopped"
  fi
  rm -f "$pidfile"
}

# fq_forge_names URL FIELD: the values of FIELD in Forge's JSON list at URL, comma-separated (empty when Forge
# cannot be asked; the gateway then accepts any valid name and the worker checks against Forge itself).
fq_forge_names() {
  local auth=()
  [[ -n ${FORGE_USERNAME:-} ]] && auth=(-u "$FORGE_USERNAME:${FORGE_PASSWORD:-}")
  curl -fs --max-time 10 "${auth[@]}" "$1" 2> /dev/null \
    | grep -o "\"$2\": *\"[^\"]*\"" | sed 's/.*: *"\(.*\)"/\1/' | grep -v ',' | paste -sd, - || true
}
