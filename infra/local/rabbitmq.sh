#!/usr/bin/env bash
# A private RabbitMQ node run as a plain process (no systemd, no Docker), bound to 127.0.0.1.
#
# Usage: infra/local/rabbitmq.sh {install|start|stop|status|reset|env|cluster-status}
#   install  apt-get install rabbitmq-server if it is missing (needs root)
#   start    install if needed, start the node and wait until AMQP and the management API answer;
#            prints "already running" and exits 0 when it is up already
#   stop     stop the node this script started (rabbitmqctl stop, falling back to SIGTERM/SIGKILL)
#   status   exit 0 when the node is up and reachable (prints ports), 1 when it runs but does not
#            answer, 3 when it is not running
#   reset    stop, then delete the node's data directory
#   env      print export lines (SPRING_RABBITMQ_*) for the node, for scripts that start apps
#   cluster-status  rabbitmqctl cluster_status of the node (its exit code: 0 when the node answers)
#   add-gateway-user [user]     create (or re-grant) the gateway's broker user, default fq-gateway (below)
#   add-worker-user <worker-id> [user]  create (or re-grant) one worker's broker user, default worker-<worker-id>
#   user-env <user>  print export lines (SPRING_RABBITMQ_USERNAME/_PASSWORD) for a user made by the two above
#
# Environment:
#   FQ_RUN_DIR      where state lives (default <repo>/.run); the node uses $FQ_RUN_DIR/rabbitmq/<node>/
#   FQ_RABBIT_PORT  AMQP port (default 5701); management = +10000, prometheus = +11000,
#                   Erlang distribution = +20000. None may fall in 35672-35682 (rabbitmqctl's own
#                   distribution ports).
#   FQ_RABBIT_NODE  node short name (default fq<port>, e.g. fq5701); the node is <name>@localhost
#   FQ_RABBIT_START_TIMEOUT  seconds to wait for the node to answer (default 120)
#   FQ_RABBIT_CLUSTER_NODES  unset (default): a standalone node. Set to a comma list of node names
#                   (e.g. fq5711@localhost,fq5712@localhost,fq5713@localhost; this node among them) to make
#                   the node a member of that cluster: its rabbitmq.conf gets classic_config peer discovery
#                   with those names and cluster_partition_handling = pause_minority, and it uses the
#                   cluster's shared Erlang cookie. Peer discovery runs only on a node without data, so
#                   start all members from scratch together (reset them all first, then start them in
#                   parallel, each with its own FQ_RABBIT_PORT and the same FQ_RABBIT_CLUSTER_NODES); a node
#                   with data (restarted after a stop or a crash) rejoins the cluster it belongs to.
#   FQ_RABBIT_COOKIE_FILE  the cluster's shared Erlang cookie (default $FQ_RUN_DIR/rabbitmq/cluster.cookie,
#                   created on first use); copied into each member's home. Only read in cluster mode.
# --- TLS (issue 19) ---
#   FQ_RABBIT_TLS_PORT  unset (default): no TLS. Set: an amqps listener on 127.0.0.1:<port> besides the plain one,
#                   with the server certificate FQ_RABBIT_TLS_CERT (PEM, the chain), its key FQ_RABBIT_TLS_KEY (PEM)
#                   and the CA FQ_RABBIT_TLS_CA (PEM); all three required. TLS 1.2/1.3 only. Clients are not asked
#                   for a certificate (they log in with user and password over the encrypted connection); they
#                   verify the broker's. Make the files with infra/local/tls-certs.sh. docs/security.md has the
#                   remote-worker set-up (a broker reached over a network: TLS listener only, no plain one).
# --- end TLS ---
#
# Several nodes (e.g. 5701 for the demo, 5702 for tests) can run side by side; they share one
# private epmd on port 4370 (not the system's 4369), which outlives the nodes. Stop it with
# `ERL_EPMD_PORT=4370 epmd -kill` once no node needs it (it refuses while a node is registered, so it is
# safe to try). User guest/guest, allowed from loopback.
#
# A 3-node cluster on 5711-5713 (the apps get SPRING_RABBITMQ_ADDRESSES=127.0.0.1:5711,127.0.0.1:5712,...):
#   export FQ_RABBIT_CLUSTER_NODES=fq5711@localhost,fq5712@localhost,fq5713@localhost
#   for p in 5711 5712 5713; do FQ_RABBIT_PORT=$p infra/local/rabbitmq.sh start & done; wait
#   FQ_RABBIT_PORT=5711 infra/local/rabbitmq.sh cluster-status
# Stop them the same way (stop, or reset to delete their data too). Measured (2 vCPU, RabbitMQ 3.10.8): the
# three members started side by side all answer after 19-29 s (peer discovery takes a lock; the first node
# tries its peers for ~5 s before it starts alone, the others then join it one by one); a member restarted
# after kill -9 is back, its quorum queue members online, in 10-13 s; stopping all three side by side 7-9 s.
# Measured (2 vCPU, RabbitMQ 3.10.8): start 4.5-6.4 s until AMQP and the management API answer, including
# ~0.8 s of one-time set-up on a fresh node (plugins); "already running" 0.03 s; stop (rabbitmqctl stop,
# clean) 7.4 s; status 0.02 s.
set -euo pipefail

FQ_SERVICE=rabbitmq
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

PORT=${FQ_RABBIT_PORT:-5701}
fq_require_port FQ_RABBIT_PORT "$PORT"
MGMT_PORT=$((PORT + 10000))
PROM_PORT=$((PORT + 11000))
DIST_PORT=$((PORT + 20000))
for p in "$MGMT_PORT" "$PROM_PORT" "$DIST_PORT"; do
  fq_require_port "derived port" "$p"
done
for p in "$PORT" "$MGMT_PORT" "$PROM_PORT" "$DIST_PORT"; do
  if ((p >= 35672 && p <= 35682)); then
    fq_die "port $p (derived from FQ_RABBIT_PORT=$PORT) is in 35672-35682, which rabbitmqctl uses for itself"
  fi
done
NODE_SHORT=${FQ_RABBIT_NODE:-fq$PORT}
[[ $NODE_SHORT =~ ^[A-Za-z0-9_-]+$ ]] || fq_die "FQ_RABBIT_NODE must be letters, digits, _ or -, got '$NODE_SHORT'"
NODE=$NODE_SHORT@localhost
START_TIMEOUT=${FQ_RABBIT_START_TIMEOUT:-120}
CLUSTER_NODES=()
if [[ -n ${FQ_RABBIT_CLUSTER_NODES:-} ]]; then
  IFS=',' read -r -a CLUSTER_NODES <<< "${FQ_RABBIT_CLUSTER_NODES// /}"
  for n in "${CLUSTER_NODES[@]}"; do
    [[ $n =~ ^[A-Za-z0-9_-]+@[A-Za-z0-9.-]+$ ]] || fq_die "FQ_RABBIT_CLUSTER_NODES must list names like fq5711@localhost, got '$n'"
  done
  [[ ,${FQ_RABBIT_CLUSTER_NODES// /}, == *,$NODE,* ]] \
    || fq_die "FQ_RABBIT_CLUSTER_NODES ($FQ_RABBIT_CLUSTER_NODES) does not list this node, $NODE"
fi
COOKIE_FILE=${FQ_RABBIT_COOKIE_FILE:-$FQ_RUN_DIR/rabbitmq/cluster.cookie}
# --- TLS (issue 19) ---
TLS_PORT=${FQ_RABBIT_TLS_PORT:-}
if [[ -n $TLS_PORT ]]; then
  fq_require_port FQ_RABBIT_TLS_PORT "$TLS_PORT"
  for v in FQ_RABBIT_TLS_CERT FQ_RABBIT_TLS_KEY FQ_RABBIT_TLS_CA; do
    [[ -n ${!v:-} ]] || fq_die "FQ_RABBIT_TLS_PORT is set: $v (a PEM file) is required too"
    [[ -r ${!v} ]] || fq_die "$v=${!v} is not a readable file"
  done
fi
# --- end TLS ---

RABBIT_BIN=/usr/lib/rabbitmq/bin
NODE_DIR=$FQ_RUN_DIR/rabbitmq/$NODE_SHORT
LOCK_FILE=$FQ_RUN_DIR/rabbitmq-$NODE_SHORT.lock
LAUNCHER_PID_FILE=$NODE_DIR/launcher.pid

# Everything below is read by both the server and the CLI tools (same HOME => same cookie).
# The real scripts in /usr/lib/rabbitmq/bin, not the /usr/sbin wrappers that switch to user rabbitmq.
export PATH=$RABBIT_BIN:$PATH
export HOME=$NODE_DIR/home
export ERL_EPMD_PORT=4370 ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_NODENAME=$NODE RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=$PORT RABBITMQ_DIST_PORT=$DIST_PORT
export RABBITMQ_MNESIA_BASE=$NODE_DIR/mnesia RABBITMQ_LOG_BASE=$NODE_DIR/log
export RABBITMQ_CONFIG_FILE=$NODE_DIR/rabbitmq.conf RABBITMQ_ADVANCED_CONFIG_FILE=$NODE_DIR/advanced.config
export RABBITMQ_ENABLED_PLUGINS_FILE=$NODE_DIR/enabled_plugins RABBITMQ_PID_FILE=$NODE_DIR/rabbit.pid
export RABBITMQ_CONF_ENV_FILE=$NODE_DIR/rabbitmq-env.conf
# Erlang distribution (node and CLI) on loopback only, like every other listener.
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
LOG_FILE=$RABBITMQ_LOG_BASE/$NODE.log
STDOUT_LOG=$RABBITMQ_LOG_BASE/stdout.log

print_endpoints() {
  fq_log "node $NODE: amqp://guest:guest@127.0.0.1:$PORT, management http://127.0.0.1:$MGMT_PORT," \
    "prometheus http://127.0.0.1:$PROM_PORT/metrics, distribution $DIST_PORT"
  # --- TLS (issue 19) ---
  if [[ -n $TLS_PORT ]]; then fq_log "amqps://127.0.0.1:$TLS_PORT (certificate $FQ_RABBIT_TLS_CERT)"; fi
  # --- end TLS ---
  fq_log "data $NODE_DIR; log $LOG_FILE (boot output: $STDOUT_LOG)"
}

# pid of the running node (from its pid file), empty if the node is not running.
node_pid() {
  local pid
  [[ -f $RABBITMQ_PID_FILE ]] || return 0
  pid=$(tr -dc '0-9' < "$RABBITMQ_PID_FILE")
  # The node name is not on beam's command line (distribution starts later), its home dir is.
  if fq_pid_matches "$pid" "-home $HOME "; then echo "$pid"; fi
}

launcher_pid() {
  local pid
  [[ -f $LAUNCHER_PID_FILE ]] || return 0
  pid=$(tr -dc '0-9' < "$LAUNCHER_PID_FILE")
  if fq_pid_matches "$pid" rabbitmq-server; then echo "$pid"; fi
}

# Up and reachable: the AMQP port accepts connections and the management API answers.
reachable() {
  (exec 3<> "/dev/tcp/127.0.0.1/$PORT") 2> /dev/null || return 1
  # --- TLS (issue 19) ---
  if [[ -n $TLS_PORT ]]; then (exec 3<> "/dev/tcp/127.0.0.1/$TLS_PORT") 2> /dev/null || return 1; fi
  # --- end TLS ---
  curl -fsS -o /dev/null --max-time 5 -u guest:guest "http://127.0.0.1:$MGMT_PORT/api/overview" 2> /dev/null
}

remove_stale_pid_files() {
  if [[ -f $RABBITMQ_PID_FILE && -z $(node_pid) ]]; then
    fq_log "removing stale pid file $RABBITMQ_PID_FILE (process gone)"
    rm -f "$RABBITMQ_PID_FILE"
  fi
  if [[ -f $LAUNCHER_PID_FILE && -z $(launcher_pid) ]]; then
    rm -f "$LAUNCHER_PID_FILE"
  fi
}

cmd_install() {
  if [[ -x $RABBIT_BIN/rabbitmq-server ]]; then
    return 0
  fi
  fq_apt_install rabbitmq-server
  [[ -x $RABBIT_BIN/rabbitmq-server ]] || fq_die "rabbitmq-server installed but $RABBIT_BIN/rabbitmq-server is missing"
}

# Writes the node's files. The configuration is rewritten on every start (cheap) so that it
# always matches the current ports; the cookie and the plugin list are made once.
prepare_node_dir() {
  mkdir -p "$HOME" "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
  if ((${#CLUSTER_NODES[@]} > 0)); then
    use_cluster_cookie
  elif [[ ! -s $HOME/.erlang.cookie ]]; then
    new_cookie "$HOME/.erlang.cookie"
  fi
  : > "$RABBITMQ_CONF_ENV_FILE" # keeps /etc/rabbitmq/rabbitmq-env.conf out
  echo '[].' > "$RABBITMQ_ADVANCED_CONFIG_FILE"
  cat > "$RABBITMQ_CONFIG_FILE" << EOF
# Written by infra/local/rabbitmq.sh on every start; edits are lost.
listeners.tcp.default = 127.0.0.1:$PORT
management.tcp.port = $MGMT_PORT
management.tcp.ip = 127.0.0.1
prometheus.tcp.port = $PROM_PORT
prometheus.tcp.ip = 127.0.0.1
loopback_users = none
default_user = guest
default_pass = guest
log.console = false
log.file.level = info
EOF
  # --- TLS (issue 19) ---
  if [[ -n $TLS_PORT ]]; then
    cat >> "$RABBITMQ_CONFIG_FILE" << EOF
listeners.ssl.default = 127.0.0.1:$TLS_PORT
ssl_options.cacertfile = $FQ_RABBIT_TLS_CA
ssl_options.certfile = $FQ_RABBIT_TLS_CERT
ssl_options.keyfile = $FQ_RABBIT_TLS_KEY
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
ssl_options.versions.1 = tlsv1.3
ssl_options.versions.2 = tlsv1.2
EOF
  fi
  # --- end TLS ---
  if ((${#CLUSTER_NODES[@]} > 0)); then
    local i
    {
      echo "cluster_formation.peer_discovery_backend = classic_config"
      for i in "${!CLUSTER_NODES[@]}"; do
        echo "cluster_formation.classic_config.nodes.$((i + 1)) = ${CLUSTER_NODES[$i]}"
      done
      echo "cluster_partition_handling = pause_minority"
    } >> "$RABBITMQ_CONFIG_FILE"
  fi
  if [[ ! -s $RABBITMQ_ENABLED_PLUGINS_FILE ]]; then
    local started
    started=$(fq_now)
    rabbitmq-plugins --offline enable rabbitmq_management rabbitmq_prometheus > "$RABBITMQ_LOG_BASE/plugins.log" 2>&1 \
      || { cat "$RABBITMQ_LOG_BASE/plugins.log" >&2; fq_die "enabling plugins failed"; }
    fq_log "enabled rabbitmq_management and rabbitmq_prometheus (offline) in $(fq_since "$started")s"
  fi
}

new_cookie() {
  (umask 077 && head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$1")
  chmod 400 "$1"
}

# Cluster mode: the node's cookie is the cluster's (made once, under its own lock: members start in parallel).
use_cluster_cookie() {
  mkdir -p "$(dirname "$COOKIE_FILE")"
  (
    flock -w 30 8 || fq_die "could not lock $COOKIE_FILE.lock"
    [[ -s $COOKIE_FILE ]] || new_cookie "$COOKIE_FILE"
  ) 8>> "$COOKIE_FILE.lock"
  if ! cmp -s "$COOKIE_FILE" "$HOME/.erlang.cookie"; then
    rm -f "$HOME/.erlang.cookie"
    (umask 077 && cp "$COOKIE_FILE" "$HOME/.erlang.cookie")
    chmod 400 "$HOME/.erlang.cookie"
    fq_log "using the cluster's Erlang cookie $COOKIE_FILE"
  fi
}

cmd_start() {
  cmd_install
  fq_lock "$LOCK_FILE"
  local started pid launcher
  started=$(fq_now)
  if [[ -n $(node_pid) ]]; then
    if wait_until_reachable 60; then
      fq_log "already running (pid $(node_pid))"
      print_endpoints
      return 0
    fi
    fq_die "node $NODE runs (pid $(node_pid)) but does not answer on $PORT/$MGMT_PORT; see $LOG_FILE, then '$0 stop'"
  fi
  remove_stale_pid_files
  for p in "$PORT" "$MGMT_PORT" "$PROM_PORT" "$DIST_PORT" $TLS_PORT; do # TLS_PORT: none when unset (issue 19)
    if fq_port_in_use "$p"; then
      fq_die "port $p is already in use by another process (not node $NODE); choose another FQ_RABBIT_PORT"
    fi
  done
  prepare_node_dir
  if ((${#CLUSTER_NODES[@]} > 0)); then
    fq_log "starting node $NODE (cluster of ${FQ_RABBIT_CLUSTER_NODES// /})"
  else
    fq_log "starting node $NODE"
  fi
  # setsid: own session, so a Ctrl-C in the calling terminal or the end of a test JVM does not
  # reach the node. 9>&-: the node must not inherit the start lock.
  setsid nohup rabbitmq-server < /dev/null >> "$STDOUT_LOG" 2>&1 9>&- &
  launcher=$!
  echo "$launcher" > "$LAUNCHER_PID_FILE"
  local deadline=$((SECONDS + START_TIMEOUT))
  until reachable; do
    if ! kill -0 "$launcher" 2> /dev/null; then
      tail -n 30 "$STDOUT_LOG" >&2 || true
      fq_die "node $NODE exited during start; see $STDOUT_LOG and $LOG_FILE"
    fi
    if ((SECONDS >= deadline)); then
      fq_die "node $NODE did not answer within ${START_TIMEOUT}s; it is left running for inspection: see $LOG_FILE, then '$0 stop'"
    fi
    sleep 0.2
  done
  pid=$(node_pid)
  fq_log "started (pid ${pid:-?}) in $(fq_since "$started")s"
  print_endpoints
}

wait_until_reachable() {
  local deadline=$((SECONDS + $1))
  until reachable; do
    [[ -n $(node_pid) ]] || return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

stop_node() {
  local pid started
  pid=$(node_pid)
  if [[ -z $pid ]]; then
    remove_stale_pid_files
    local launcher
    launcher=$(launcher_pid)
    if [[ -n $launcher ]]; then
      # Boot failed or is still before the pid file: stop the launcher (it forwards SIGTERM).
      kill -TERM "$launcher" 2> /dev/null || true
      rm -f "$LAUNCHER_PID_FILE"
    fi
    fq_log "node $NODE is not running"
    return 0
  fi
  started=$(fq_now)
  fq_log "stopping node $NODE (pid $pid)"
  if ! timeout 60 rabbitmqctl -n "$NODE" stop "$RABBITMQ_PID_FILE" > "$RABBITMQ_LOG_BASE/stop.log" 2>&1; then
    fq_warn "rabbitmqctl stop failed (see $RABBITMQ_LOG_BASE/stop.log); sending SIGTERM to $pid"
    kill -TERM "$pid" 2> /dev/null || true
    local i
    for ((i = 0; i < 150; i++)); do
      [[ -n $(node_pid) ]] || break
      sleep 0.1
    done
    if [[ -n $(node_pid) ]]; then
      fq_warn "node still alive after SIGTERM; sending SIGKILL to $pid"
      kill -KILL "$pid" 2> /dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$RABBITMQ_PID_FILE" "$LAUNCHER_PID_FILE"
  fq_log "stopped in $(fq_since "$started")s"
}

cmd_stop() {
  fq_lock "$LOCK_FILE"
  stop_node
}

cmd_status() {
  local pid
  pid=$(node_pid)
  if [[ -z $pid ]]; then
    fq_log "node $NODE is not running (ports: amqp $PORT, management $MGMT_PORT, prometheus $PROM_PORT)"
    [[ -f $RABBITMQ_PID_FILE ]] && fq_log "(stale pid file $RABBITMQ_PID_FILE; 'start' removes it)"
    return 3
  fi
  if reachable; then
    fq_log "node $NODE is running (pid $pid)"
    print_endpoints
    return 0
  fi
  fq_log "node $NODE runs (pid $pid) but does not answer on amqp $PORT / management $MGMT_PORT; see $LOG_FILE"
  return 1
}

cmd_reset() {
  fq_lock "$LOCK_FILE"
  stop_node
  rm -rf "$NODE_DIR"
  fq_log "deleted $NODE_DIR"
}

cmd_cluster_status() {
  [[ -n $(node_pid) ]] || {
    fq_log "node $NODE is not running"
    return 3
  }
  timeout 60 rabbitmqctl -n "$NODE" cluster_status
}

cmd_env() {
  cat << EOF
export SPRING_RABBITMQ_ADDRESSES=127.0.0.1:$PORT
export SPRING_RABBITMQ_USERNAME=guest
export SPRING_RABBITMQ_PASSWORD=guest
export SPRING_RABBITMQ_VIRTUAL_HOST=/
export FQ_RABBIT_MANAGEMENT_URL=http://127.0.0.1:$MGMT_PORT
export FQ_RABBIT_PROMETHEUS_URL=http://127.0.0.1:$PROM_PORT/metrics
EOF
}

# --- broker users: least privilege (issue 19; README "Security", docs/operating.md "Adding a worker user") ---
# guest (administrator) is for operators only. The gateway gets every forge.* name on the vhost and write on the
# default exchange (amq.default: the scheduler hands job messages out through it, routing key = the worker's queue
# name); each worker its own user that may configure and read only its own job queue (forge.jobs.worker.<id>) and
# control queue (forge.control.<id>), bind the control queue to forge.control, name forge.jobs.dlx as its job queue's
# dead-letter exchange, and publish on forge.events only the routing keys job.*, worker.status and relay.preview
# (topic permissions). A worker has no right on any exchange job messages travel through, so it cannot bind a queue
# of its own to receive another worker's job messages (nobody can bind on the default exchange).
# The regexes are the same as infra/test-support BrokerRoles (BrokerRolesScriptTest compares them). Passwords are
# generated once into $FQ_RUN_DIR/rabbitmq/users/<user>.password (mode 600).
USERS_DIR=$FQ_RUN_DIR/rabbitmq/users
WORKER_TOPIC_WRITE='^(job\..+|worker\.status|relay\.preview)$'
WORKER_TOPIC_READ='^$'
GATEWAY_PERMISSION='^forge\..*'
GATEWAY_WRITE='^(forge\..*|amq\.default)$'

user_password() {
  local file=$USERS_DIR/$1.password
  if [[ ! -s $file ]]; then
    mkdir -p "$USERS_DIR"
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$file")
  fi
  cat "$file"
}

ensure_user() {
  local user=$1 password
  password=$(user_password "$user")
  if rabbitmqctl -n "$NODE" -q list_users | awk '{print $1}' | grep -Fxq -- "$user"; then
    rabbitmqctl -n "$NODE" -q change_password "$user" "$password" > /dev/null
  else
    rabbitmqctl -n "$NODE" -q add_user "$user" "$password" > /dev/null
  fi
}

cmd_add_gateway_user() {
  local user=${1:-fq-gateway}
  ensure_user "$user"
  rabbitmqctl -n "$NODE" -q set_permissions -p / "$user" "$GATEWAY_PERMISSION" "$GATEWAY_WRITE" "$GATEWAY_PERMISSION"
  fq_log "broker user $user (gateway): configure/read $GATEWAY_PERMISSION, write $GATEWAY_WRITE on /"
}

# worker_permissions <worker-id>: the configure, write and read regexes of its user, one a line
worker_permissions() {
  local id=${1//./\\.}
  printf '%s\n' "^forge\\.(jobs\\.worker|control)\\.$id\$" \
    "^(forge\\.control\\.$id|forge\\.jobs\\.dlx|forge\\.events)\$" \
    "^(forge\\.jobs\\.worker\\.$id|forge\\.control\\.$id|forge\\.control)\$"
}

cmd_add_worker_user() {
  local id=${1:-} user configure write read
  [[ $id =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$ ]] || fq_die "usage: $0 add-worker-user <worker-id> [user] (id: A-Z a-z 0-9 . _ -)"
  user=${2:-worker-$id}
  { read -r configure; read -r write; read -r read; } < <(worker_permissions "$id")
  ensure_user "$user"
  rabbitmqctl -n "$NODE" -q set_permissions -p / "$user" "$configure" "$write" "$read"
  rabbitmqctl -n "$NODE" -q set_topic_permissions -p / "$user" forge.events "$WORKER_TOPIC_WRITE" "$WORKER_TOPIC_READ"
  fq_log "broker user $user (worker $id): configure $configure, write $write, read $read; forge.events topic write $WORKER_TOPIC_WRITE"
}

cmd_user_env() {
  local user=${1:-}
  [[ -n $user && -s $USERS_DIR/$user.password ]] || fq_die "no password for broker user '$user' (add-gateway-user / add-worker-user first)"
  printf 'export SPRING_RABBITMQ_USERNAME=%q\nexport SPRING_RABBITMQ_PASSWORD=%q\n' "$user" "$(cat "$USERS_DIR/$user.password")"
}
# --- end of broker users ---

case "${1:-}" in
  install)
    cmd_install
    fq_log "rabbitmq-server is installed ($RABBIT_BIN)"
    ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  env) cmd_env ;;
  cluster-status) cmd_cluster_status ;;
  add-gateway-user) cmd_add_gateway_user "${2:-}" ;;
  add-worker-user) cmd_add_worker_user "${2:-}" "${3:-}" ;;
  user-env) cmd_user_env "${2:-}" ;;
  *)
    echo "usage: $0 {install|start|stop|status|reset|env|cluster-status|add-gateway-user|add-worker-user|user-env}" >&2
    exit 2
    ;;
esac
