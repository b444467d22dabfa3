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

# fq_merge_api_keys LOCAL_KEY [KEYS]: the keys the local gateway ensures at start-up, comma-separated: the local key
# first, then the operator's own (KEYS, e.g. GATEWAY_BOOTSTRAP_API_KEY: comma-separated), each once, blanks dropped.
fq_merge_api_keys() {
  local key merged=() seen=,
  local -a keys
  IFS=, read -ra keys <<< "$1,${2:-}"
  for key in "${keys[@]}"; do
    key=${key#"${key%%[![:space:]]*}"}
    key=${key%"${key##*[![:space:]]}"}
    [[ -n $key && $seen != *",$key,"* ]] || continue
    merged+=("$key")
    seen+="$key,"
  done
  local IFS=,
  echo "${merged[*]}"
}

# fq_worker_layout GATEWAY_PORT [GATEWAY_MANAGEMENT_PORT]: one line per gpu-worker, "NAME PORT FORGE_URL SIM_PORT": its actuator port, the
# Forge it drives and the port of the forge-sim to start for it ("-" for a real Forge). One worker per Forge:
#   FORGE_URLS (comma-separated) or FORGE_URL   real Forges, one worker each; FQ_WORKERS, if set, must match
#   otherwise                                   FQ_WORKERS (default 2) workers, each with a forge-sim of its own
# Worker i listens on FQ_WORKER_PORT + i - 1 (default 8091..), forge-sim i on FQ_FORGE_SIM_PORT + 2(i - 1) (default
# 7861, 7863, ..) with its admin API one above. Dies when a port is out of range or two of them, or the gateway's,
# coincide.
fq_worker_layout() {
  local gateway_port=$1 management_port=${2:-} worker_base=${FQ_WORKER_PORT:-8091} sim_base=${FQ_FORGE_SIM_PORT:-7861}
  local workers=${FQ_WORKERS:-} forges=() url i
  fq_require_port FQ_GATEWAY_PORT "$gateway_port"
  [[ -z $management_port ]] || fq_require_port FQ_GATEWAY_MANAGEMENT_PORT "$management_port"
  [[ $management_port != "$gateway_port" ]] || fq_die "FQ_GATEWAY_MANAGEMENT_PORT must differ from FQ_GATEWAY_PORT"
  fq_require_port FQ_WORKER_PORT "$worker_base"
  fq_require_port FQ_FORGE_SIM_PORT "$sim_base"
  [[ -z $workers || $workers =~ ^[0-9]+$ ]] || fq_die "FQ_WORKERS must be a number, got '$workers'"
  if [[ -n ${FORGE_URL:-} && -n ${FORGE_URLS:-} ]]; then
    fq_die "set FORGE_URL (one Forge) or FORGE_URLS (several, comma-separated), not both"
  fi
  if [[ -n ${FORGE_URLS:-}${FORGE_URL:-} ]]; then
    IFS=, read -ra forges <<< "${FORGE_URLS:-${FORGE_URL:-}}"
    local given=("${forges[@]}")
    forges=()
    for url in "${given[@]}"; do
      url=${url//[[:space:]]/}
      [[ -z $url ]] || forges+=("$url")
    done
    ((${#forges[@]} >= 1)) || fq_die "FORGE_URLS holds no URL"
    if [[ -n $workers ]] && ((workers != ${#forges[@]})); then
      fq_die "FQ_WORKERS=$workers, but ${#forges[@]} Forge URL(s) given: run exactly one worker per Forge (Forge's \
progress, preview and interrupt are global, so workers sharing one would interrupt each other and see each other's \
previews). For several workers give one Forge each: FORGE_URLS=http://gpu-a:7860,http://gpu-b:7860 (without FQ_WORKERS)"
    fi
    workers=${#forges[@]}
  fi
  workers=${workers:-2}
  ((workers >= 1 && workers <= 16)) || fq_die "FQ_WORKERS must be 1-16, got '$workers'"

  local -A used=([$gateway_port]=gateway)
  [[ -z $management_port ]] || used[$management_port]="the gateway's management port"
  local lines=() claims claim line port sim
  for ((i = 1; i <= workers; i++)); do
    port=$((worker_base + i - 1))
    claims=("$port worker-$i")
    if ((${#forges[@]} > 0)); then
      line="worker-$i $port ${forges[i - 1]} -"
    else
      sim=$((sim_base + 2 * (i - 1)))
      claims+=("$sim forge-sim-$i" "$((sim + 1)) forge-sim-$i (admin API)")
      line="worker-$i $port http://127.0.0.1:$sim $sim"
    fi
    for claim in "${claims[@]}"; do
      port=${claim%% *}
      fq_require_port "the port of ${claim#* }" "$port"
      [[ -z ${used[$port]:-} ]] || fq_die "port $port would be both ${used[$port]} and ${claim#* }: move \
FQ_GATEWAY_PORT, FQ_GATEWAY_MANAGEMENT_PORT, FQ_WORKER_PORT and FQ_FORGE_SIM_PORT apart"
      used[$port]=${claim#* }
    done
    lines+=("$line")
  done
  printf '%s\n' "${lines[@]}"
}

# fq_app_pid NAME JAR: the pid of NAME when up.sh started it and it still runs (JAR on its command line).

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
  local pidfile=$FQ_APP_DIR/pids/$1.pid pid
  [[ -f $pidfile ]] || return 1
  read -r pid < "$pidfile" || true
  if fq_pid_matches "$pid" "$2"; then
    echo "$pid"
  else
    rm -f "$pidfile"
    return 1
  fi
}

# fq_check_app_port NAME JAR PORT: dies unless PORT is free for NAME or NAME (started by up.sh from this FQ_RUN_DIR)
# already runs on it: when another process listens on PORT, or NAME runs on another port (a system started with
# other settings from the same FQ_RUN_DIR).
fq_check_app_port() {
  local name=$1 jar=$2 port=$3 pid running_port
  if pid=$(fq_app_pid "$name" "$jar"); then
    running_port=$(sed -n 2p "$FQ_APP_DIR/pids/$name.pid")
    if [[ -n $running_port && $running_port != "$port" ]]; then
      fq_die "$name already runs (pid $pid) on port $running_port, not $port: this FQ_RUN_DIR ($FQ_RUN_DIR) holds a \
system started with other settings. Stop it (infra/local/down.sh), or give this system its own FQ_RUN_DIR"
    fi
  elif [[ -n $(fq_listen_inodes "$port") ]]; then
    fq_die "port $port, wanted by $name, is already in use by $(fq_port_owners "$port"). Another local system? \
Give this one its own ports and FQ_RUN_DIR (see the top of infra/local/up.sh)"
  fi
}

# fq_start_app NAME JAR PORT HEALTH_PATH -- [env VAR=value ...] [app args...]
# Starts `java -jar JAR args` unless NAME already runs, then waits until http://127.0.0.1:PORT/HEALTH_PATH answers
# 200 from the process it started (fq_await_app). Refuses a PORT another process already listens on, and a NAME
# that already runs on another port (a system started with other settings from the same FQ_RUN_DIR).
# FQ_HEALTH_PORT (optional, e.g. `FQ_HEALTH_PORT=8081 fq_start_app ...`): the app's management port, where
# HEALTH_PATH is asked instead of PORT (the gateway's actuator is not on its public port); refused when in use too.
fq_start_app() {
  local name=$1 jar=$2 port=$3 health=$4 health_port=${FQ_HEALTH_PORT:-$3}
  shift 4
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
  local log=$FQ_APP_DIR/logs/$name.log pidfile=$FQ_APP_DIR/pids/$name.pid pid
  fq_check_app_port "$name" "$jar" "$port"
  if pid=$(fq_app_pid "$name" "$jar"); then
    fq_log "$name already running (pid $pid)"
    return 0
  fi
  if [[ $health_port != "$port" && -n $(fq_listen_inodes "$health_port") ]]; then
    fq_die "port $health_port, wanted by $name for its actuator, is already in use by $(fq_port_owners "$health_port")"
  fi
  [[ -f $jar ]] || fq_die "$jar is missing: build with ./mvnw -DskipTests package"
  local t
  t=$(fq_now)
  # The variables are exported in the subshell, not passed on a command line, so that API keys never show in ps.
  # shellcheck disable=SC2086
  (
    ((${#envs[@]} == 0)) || export "${envs[@]}"
    exec nohup java ${FQ_JAVA_OPTS:-} -jar "$jar" "${args[@]}" >> "$log" 2>&1 < /dev/null 9>&-
  ) &
  pid=$!
  printf '%s\n%s\n' "$pid" "$port" > "$pidfile"
  fq_await_app "$name" "$pid" "$port" "http://127.0.0.1:$health_port$health" "$log"
  fq_log "$name up in $(fq_since "$t") s (pid $pid, port $port, log $log)"
}

# fq_await_app NAME PID PORT URL LOG: waits until URL answers 200 while process PID holds the listening socket of
# PORT, so the answer is known to come from that process (not from another system's app on the same port). Dies
# when PID exits, when another process holds PORT (PID is then stopped: it cannot listen there), or after
# FQ_APP_START_TIMEOUT seconds.
fq_await_app() {
  local name=$1 pid=$2 port=$3 url=$4 log=$5
  local deadline=$((SECONDS + FQ_APP_START_TIMEOUT))
  while :; do
    if ! kill -0 "$pid" 2> /dev/null; then
      rm -f "$FQ_APP_DIR/pids/$name.pid"
      tail -n 30 "$log" >&2 || true
      fq_die "$name exited during start; see $log"
    fi
    case $(fq_port_holder "$pid" "$port") in
      self)
        curl -fs -o /dev/null --max-time 2 "$url" && return 0
        ;;
      other)
        local owners
        owners=$(fq_port_owners "$port")
        kill -TERM "$pid" 2> /dev/null || true
        rm -f "$FQ_APP_DIR/pids/$name.pid"
        fq_die "port $port is held by $owners, so $name (pid $pid, now stopped) \
cannot listen there and what answers there is not $name. Another local system? Give this one its own ports and \
FQ_RUN_DIR (see the top of infra/local/up.sh)"
        ;;
    esac
    ((SECONDS < deadline)) || fq_die "$name did not become healthy within ${FQ_APP_START_TIMEOUT}s; see $log"
    sleep 0.5
  done
}

# Stops NAME gracefully (SIGTERM, then SIGKILL after 45 s) if up.sh started it.
fq_stop_app() {
  local name=$1 pidfile=$FQ_APP_DIR/pids/$1.pid pid
  [[ -f $pidfile ]] || return 0
  read -r pid < "$pidfile" || true
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

# fq_forge_common_names PATH FIELD URL...: the names (FIELD of Forge's list at URL+PATH) that every Forge offers,
# comma-separated, in the first one's order, so the gateway accepts only what any worker's Forge can run. A Forge
# that cannot be asked is left out; empty when none can.
fq_forge_common_names() {
  local path=$1 field=$2 url names common='' asked=''
  shift 2
  for url in "$@"; do
    names=$(fq_forge_names "$url$path" "$field")
    [[ -n $names ]] || continue
    if [[ -z $asked ]]; then
      common=$names
      asked=yes
    else
      common=$(tr , '\n' <<< "$common" | grep -Fx -f <(tr , '\n' <<< "$names") | paste -sd, - || true)
    fi
  done
  echo "$common"
}
