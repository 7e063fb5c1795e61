#!/usr/bin/env bash
# scripts/cluster.sh: three-node clusters of Kafka, RabbitMQ and NATS on
# 127.0.0.1 only, without Docker, for Herald's cluster and fault tests.
#
#   scripts/cluster.sh up [BROKER ...]       install if needed, start every node, wait, form the cluster
#   scripts/cluster.sh down [BROKER ...]     stop every node (data is kept in the state dir)
#   scripts/cluster.sh status [BROKER ...]   one line per node; exit 3 if any node is down
#   scripts/cluster.sh env [BROKER ...]      print the export lines for the tests
#   scripts/cluster.sh kill NODE             SIGKILL that node's process (by its pid file)
#   scripts/cluster.sh stop NODE             stop that node cleanly
#   scripts/cluster.sh restart NODE          start a killed/stopped node again with its data
#                                            (a running node is stopped cleanly first)
#   scripts/cluster.sh pid NODE              print the node's pid; exit 1 if it is not running
#   scripts/cluster.sh nodes [BROKER ...]    "NODE PID|- HOST:PORT" per node
#   scripts/cluster.sh leader BROKER NAME    the node leading a NATS stream (nats NAME=stream)
#                                            or a RabbitMQ quorum queue (amqp NAME=queue);
#                                            Kafka: find partition leaders with kadm
#   scripts/cluster.sh rabbitmqctl NODE ARGS...   rabbitmqctl against one node
#   scripts/cluster.sh wipe                  down, then delete the state dir
#
# BROKER: kafka, amqp (or rabbitmq), nats; none means all three.
# NODE:   kafka1..3, rabbit1..3, nats1..3.
# `up` ends by printing the export lines on stdout (everything else goes to
# stderr), so this works:  eval "$(scripts/cluster.sh up | grep ^export)"
#
# Ports, all derived from HERALD_CLUSTER_PORT_BASE (B, default 15000), N = 1..3:
#   kafkaN   B+10+N client (PLAINTEXT), B+20+N controller (KRaft, 3 voters)
#   rabbitN  B+30+N AMQP, B+40+N Erlang distribution; B+49 our own epmd;
#            B+50..B+59 rabbitmqctl's distribution ports
#   natsN    B+60+N client, B+70+N cluster routes, B+80+N monitoring (HTTP)
#   kafkaN   B+90+N a second client listener (PROXIED), only with
#            HERALD_CLUSTER_KAFKA_PROXY_PORTS (see below)
# With the default base: Kafka 15011-15013, AMQP 15031-15033, NATS 15061-15063.
# Two clusters coexist when their bases differ by 100 or more and their
# state dirs differ (the default dir includes the base).
#
# Environment:
#   HERALD_CLUSTER_PORT_BASE   see above (default 15000)
#   HERALD_CLUSTER_DIR         state: data, logs, pid files (default ~/.cache/herald/cluster-$BASE)
#   HERALD_CLUSTER_KAFKA_HEAP  JVM heap options per Kafka node (default "-Xms128m -Xmx512m")
#   HERALD_CLUSTER_KAFKA_PROXY_PORTS  "P1,P2,P3": kafkaN also listens on B+90+N and
#                              advertises 127.0.0.1:PN there, so that a TCP proxy on PN
#                              forwarding to B+90+N carries all of a client's traffic to
#                              that broker (a Kafka client connects to the advertised
#                              addresses, not to the bootstrap one). `env` then prints
#                              HERALD_CLUSTER_KAFKA_PROXIED (kafka://127.0.0.1:P1,...) and
#                              HERALD_CLUSTER_KAFKA_PROXY_UPSTREAMS (127.0.0.1:B+91,...).
#                              Read at each node start: set it before `up` or `restart`.
#   HERALD_CACHE, HERALD_KAFKA_VERSION, HERALD_NATS_VERSION: as in scripts/brokers.sh,
#                              whose install steps (jars, nats-server build, apt) this script reuses.
#
# Settings that differ from the brokers' defaults: Kafka's internal topics
# (consumer offsets, transactions) and default.replication.factor are 3, and
# broker.session.timeout.ms=3000 with 500 ms heartbeats (a dead broker is
# fenced and its partitions get new leaders after ~3 s instead of ~9 s);
# fewer threads and small heaps, for a 2-core machine. Durability settings
# (fsync, min.insync.replicas, JetStream sync_interval) are the brokers'
# defaults: Herald itself asks for replication (Kafka RF 3 and
# min.insync.replicas 2, quorum queues, JetStream replicas 3).
set -euo pipefail

CLUSTER_SCRIPT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
# shellcheck source=scripts/brokers.sh
source "$(dirname "$CLUSTER_SCRIPT")/brokers.sh"

BASE=${HERALD_CLUSTER_PORT_BASE:-15000}
[[ $BASE =~ ^[0-9]+$ ]] && ((BASE >= 1024 && BASE + 99 <= 65535)) || {
  printf '[cluster] ERROR: HERALD_CLUSTER_PORT_BASE=%s: want a number from 1024 to 65436\n' "$BASE" >&2
  exit 1
}
DIR=${HERALD_CLUSTER_DIR:-$HOME/.cache/herald/cluster-$BASE}
# brokers.sh functions (prepare_*) write their logs under $STATE: ours.
STATE=$DIR
CLUSTER_KAFKA_HEAP=${HERALD_CLUSTER_KAFKA_HEAP:--Xms128m -Xmx512m}
NODES_PER_BROKER=3
CLUSTER_EPMD_PORT=$((BASE + 49))
CLUSTER_NAME=herald-$BASE

log() { printf '[cluster %s] %s\n' "$BASE" "$*" >&2; }
die() {
  printf '[cluster %s] ERROR: %s\n' "$BASE" "$*" >&2
  exit 1
}

# ------------------------------------------------------------ node naming

kafka_port() { echo $((BASE + 10 + $1)); }
kafka_ctl_port() { echo $((BASE + 20 + $1)); }
rabbit_port() { echo $((BASE + 30 + $1)); }
rabbit_dist_port() { echo $((BASE + 40 + $1)); }
nats_port() { echo $((BASE + 60 + $1)); }
nats_route_port() { echo $((BASE + 70 + $1)); }
nats_http_port() { echo $((BASE + 80 + $1)); }

# parse_node NODE: sets NODE_KIND (kafka|rabbit|nats) and NODE_N (1..3).
parse_node() {
  if [[ $1 =~ ^(kafka|rabbit|nats)([1-3])$ ]]; then
    NODE_KIND=${BASH_REMATCH[1]}
    NODE_N=${BASH_REMATCH[2]}
  else
    die "unknown node '$1' (kafka1..3, rabbit1..3, nats1..3)"
  fi
}

# node_port NODE: the client port of NODE.
node_port() {
  parse_node "$1"
  "${NODE_KIND}_port" "$NODE_N"
}

# node_pid NODE: the pid of a running NODE (guarded against recycled pids).
node_pid() {
  parse_node "$1"
  case $NODE_KIND in
  kafka) pid_alive "$DIR/$1/kafka.pid" "$DIR/$1/server.properties" ;;
  rabbit) pid_alive "$DIR/$1/rabbitmq.pid" "$DIR/rabbit-home" ;; # the node name is not on the command line
  nats) pid_alive "$DIR/$1/nats.pid" "$DIR/$1/nats.conf" ;;
  esac
}

# ------------------------------------------------------------------ kafka

kafka_proxied_port() { echo $((BASE + 90 + $1)); }

# kafka_proxy_port N: the advertised port of kafkaN's PROXIED listener,
# from HERALD_CLUSTER_KAFKA_PROXY_PORTS ("" when unset).
kafka_proxy_port() {
  local ports=${HERALD_CLUSTER_KAFKA_PROXY_PORTS:-}
  [[ -n $ports ]] || return 0
  local -a p
  IFS=, read -r -a p <<<"$ports"
  [[ ${#p[@]} -eq $NODES_PER_BROKER && ${p[$(($1 - 1))]} =~ ^[0-9]+$ ]] ||
    die "HERALD_CLUSTER_KAFKA_PROXY_PORTS=$ports: want three ports, e.g. 15191,15192,15193"
  echo "${p[$(($1 - 1))]}"
}

kafka_quorum_voters() {
  local n out=
  for ((n = 1; n <= NODES_PER_BROKER; n++)); do
    out+="${out:+,}$n@$HOST:$(kafka_ctl_port "$n")"
  done
  echo "$out"
}

kafka_cluster_id() {
  local f=$DIR/kafka-cluster-id cid=-
  if [[ ! -s $f ]]; then
    # A Kafka Uuid: 16 random bytes, URL-safe base64 without padding, not starting with '-'.
    while [[ $cid == -* ]]; do
      cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    done
    printf '%s\n' "$cid" >"$f"
  fi
  tr -d '\n' <"$f"
}

kafka_node_config() {
  local node=$1 n=$2 d=$DIR/$1 proxy listeners advertised protocols
  mkdir -p "$d/data"
  listeners="PLAINTEXT://$HOST:$(kafka_port "$n"),CONTROLLER://$HOST:$(kafka_ctl_port "$n")"
  advertised="PLAINTEXT://$HOST:$(kafka_port "$n")"
  protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
  proxy=$(kafka_proxy_port "$n")
  if [[ -n $proxy ]]; then
    listeners+=",PROXIED://$HOST:$(kafka_proxied_port "$n")"
    advertised+=",PROXIED://$HOST:$proxy"
    protocols+=",PROXIED:PLAINTEXT"
  fi
  cat >"$d/server.properties" <<EOF
# written by scripts/cluster.sh; rewritten on every start
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$(kafka_quorum_voters)
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols
log.dirs=$d/data
num.network.threads=2
num.io.threads=2
background.threads=2
num.replica.fetchers=1
num.partitions=1
default.replication.factor=3
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=3
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
log.retention.hours=24
EOF
  cat >"$d/log4j2.properties" <<EOF
status = warn
shutdownHook = disable
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = $d/kafka.log
appender.file.filePattern = $d/kafka.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
EOF
  cat >"$d/log4j2-tools.properties" <<'EOF'
status = warn
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
}

kafka_node_format() {
  local d=$DIR/$1 out
  [[ -f $d/data/meta.properties ]] && return 0
  if ! out=$(java -Dlog4j2.configurationFile="$d/log4j2-tools.properties" \
    -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format \
    -t "$(kafka_cluster_id)" -c "$d/server.properties" --ignore-formatted 2>&1); then
    printf '%s\n' "$out" >&2
    die "$1: storage format failed"
  fi
}

# kafka_node_launch NODE N: start the JVM (no waiting). Prints nothing.
kafka_node_launch() {
  local node=$1 n=$2 d=$DIR/$1 pid p
  if pid=$(node_pid "$node"); then
    log "$node: already running (pid $pid)"
    return 0
  fi
  for p in "$(kafka_port "$n")" "$(kafka_ctl_port "$n")"; do
    port_open "$p" && die "$node: port $p is in use by another process: $(port_owner "$p")"
  done
  kafka_node_config "$node" "$n"
  kafka_node_format "$node"
  [[ -f $d/kafka.log ]] && mv -f "$d/kafka.log" "$d/kafka.log.prev"
  [[ -f $d/kafka.out ]] && mv -f "$d/kafka.out" "$d/kafka.out.prev"
  # shellcheck disable=SC2086 # CLUSTER_KAFKA_HEAP is a list of JVM options
  pid=$(launch "$d/kafka.out" java $CLUSTER_KAFKA_HEAP \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -XX:ParallelGCThreads=1 -XX:ConcGCThreads=1 -XX:CICompilerCount=2 \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$d/log4j2.properties" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$d/server.properties")
  printf '%s\n' "$pid" >"$d/kafka.pid"
  log "$node: started pid $pid on $HOST:$(kafka_port "$n") (log: $d/kafka.log)"
}

kafka_node_ready() {
  local node=$1 n=$2
  grep -qs 'Kafka Server started' "$DIR/$node/kafka.log" && KAFKA_PORT=$(kafka_port "$n") kafka_api_versions
}

kafka_node_stop() {
  local pid
  if pid=$(node_pid "$1"); then
    log "$1: stopping pid $pid"
    stop_pid "$1" "$pid" 60
  fi
  rm -f "$DIR/$1/kafka.pid"
}

# ------------------------------------------------------------- rabbitmq

# rmqn NODE SECONDS CMD ARGS...: a RabbitMQ script with NODE's environment.
rmqn() {
  local node=$1 secs=$2 cmd=$3 bin n
  shift 3
  parse_node "$node"
  n=$NODE_N
  local -a limit=()
  ((secs > 0)) && limit=(timeout "$secs")
  bin=$(rmq_bin_dir) || die "rabbitmq-server not found"
  local d=$DIR/$node
  mkdir -p "$d/mnesia" "$d/log"
  [[ -f $d/rabbitmq-env.conf ]] || : >"$d/rabbitmq-env.conf"
  env \
    HOME="$DIR/rabbit-home" \
    RABBITMQ_NODENAME="$node@localhost" \
    RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf" \
    RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config" \
    RABBITMQ_MNESIA_BASE="$d/mnesia" \
    RABBITMQ_LOG_BASE="$d/log" \
    RABBITMQ_PID_FILE="$d/rabbitmq.pid" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" \
    RABBITMQ_ENABLED_PLUGINS="" \
    RABBITMQ_NODE_IP_ADDRESS="$HOST" \
    RABBITMQ_NODE_PORT="$(rabbit_port "$n")" \
    RABBITMQ_DIST_PORT="$(rabbit_dist_port "$n")" \
    RABBITMQ_CTL_DIST_PORT_MIN=$((BASE + 50)) \
    RABBITMQ_CTL_DIST_PORT_MAX=$((BASE + 59)) \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    ERL_EPMD_ADDRESS="$HOST" \
    ERL_EPMD_PORT="$CLUSTER_EPMD_PORT" \
    "${limit[@]}" "$bin/$cmd" "$@"
}

rabbit_setup_home() {
  local h=$DIR/rabbit-home
  mkdir -p "$h"
  if [[ ! -s $h/.erlang.cookie ]]; then
    # One cookie for the three nodes and the CLI: they share this HOME.
    head -c 15 /dev/urandom | base64 | tr -dc 'A-Za-z' >"$h/.erlang.cookie"
    chmod 400 "$h/.erlang.cookie"
  fi
}

# Our own epmd on B+49, so that our nodes never register with another
# cluster's (or brokers.sh's) epmd, and we know its pid.
rabbit_start_epmd() {
  port_open "$CLUSTER_EPMD_PORT" && return 0
  local epmd pid i
  epmd=$(command -v epmd 2>/dev/null || compgen -G '/usr/lib/erlang/erts-*/bin/epmd' | head -n 1 || true)
  [[ -n $epmd && -x $epmd ]] || die "rabbitmq: epmd not found (package erlang-base)"
  pid=$(launch "$DIR/epmd.log" "$epmd" -address "$HOST" -port "$CLUSTER_EPMD_PORT")
  printf '%s\n' "$pid" >"$DIR/epmd.pid"
  for ((i = 0; i < 50; i++)); do
    port_open "$CLUSTER_EPMD_PORT" && return 0
    sleep 0.1
  done
  show_tail "$DIR/epmd.log"
  die "rabbitmq: epmd did not start on $HOST:$CLUSTER_EPMD_PORT"
}

rabbit_node_launch() {
  local node=$1 n=$2 d=$DIR/$1 pid p
  if pid=$(node_pid "$node"); then
    log "$node: already running (pid $pid)"
    return 0
  fi
  for p in "$(rabbit_port "$n")" "$(rabbit_dist_port "$n")"; do
    port_open "$p" && die "$node: port $p is in use by another process: $(port_owner "$p")"
  done
  mkdir -p "$d"
  cat >"$d/rabbitmq.conf" <<EOF
# written by scripts/cluster.sh; rewritten on every start
listeners.tcp.default = $HOST:$(rabbit_port "$n")
loopback_users.guest = true
cluster_name = $CLUSTER_NAME
log.console = false
log.file.level = info
EOF
  rabbit_setup_home
  rabbit_start_epmd
  rm -f "$d/rabbitmq.pid"
  [[ -f $d/startup.log ]] && mv -f "$d/startup.log" "$d/startup.log.prev"
  if ! rmqn "$node" 60 rabbitmq-server -detached </dev/null >>"$d/startup.log" 2>&1 9>&-; then
    show_tail "$d/startup.log" "$d"/log/*.log
    die "$node: rabbitmq-server -detached failed"
  fi
  log "$node: starting on $HOST:$(rabbit_port "$n") (logs: $d/log)"
}

rabbit_node_ready() {
  local node=$1 n=$2
  port_open "$(rabbit_port "$n")" && rmqn "$node" 15 rabbitmq-diagnostics -q ping >/dev/null 2>&1
}

# rabbit_join NODE: make NODE a member of rabbit1's cluster (once).
rabbit_join() {
  local node=$1 out
  [[ -f $DIR/$node/joined ]] && return 0
  if rmqn "$node" 30 rabbitmqctl -q cluster_status --formatter json 2>/dev/null | grep -q '"rabbit1@localhost"'; then
    : >"$DIR/$node/joined"
    return 0
  fi
  log "$node: joining rabbit1@localhost"
  out=$(rmqn "$node" 60 rabbitmqctl -q stop_app 2>&1 &&
    rmqn "$node" 60 rabbitmqctl -q join_cluster rabbit1@localhost 2>&1 &&
    rmqn "$node" 60 rabbitmqctl -q start_app 2>&1) || {
    printf '%s\n' "$out" >&2
    die "$node: join_cluster rabbit1@localhost failed"
  }
  : >"$DIR/$node/joined"
}

rabbit_node_stop() {
  local pid
  if pid=$(node_pid "$1"); then
    log "$1: stopping pid $pid"
    rmqn "$1" 60 rabbitmqctl -q shutdown >/dev/null 2>&1 || true
    stop_pid "$1" "$pid" 30
  fi
  rm -f "$DIR/$1/rabbitmq.pid"
}

rabbit_stop_epmd() {
  local pid
  if pid=$(pid_alive "$DIR/epmd.pid" epmd); then
    stop_pid epmd "$pid" 10
  fi
  rm -f "$DIR/epmd.pid"
}

# ------------------------------------------------------------------- nats

nats_routes() {
  local n out=
  for ((n = 1; n <= NODES_PER_BROKER; n++)); do
    out+="${out:+, }nats-route://$HOST:$(nats_route_port "$n")"
  done
  echo "$out"
}

nats_node_launch() {
  local node=$1 n=$2 d=$DIR/$1 pid p
  if pid=$(node_pid "$node"); then
    log "$node: already running (pid $pid)"
    return 0
  fi
  for p in "$(nats_port "$n")" "$(nats_route_port "$n")" "$(nats_http_port "$n")"; do
    port_open "$p" && die "$node: port $p is in use by another process: $(port_owner "$p")"
  done
  mkdir -p "$d/jetstream"
  cat >"$d/nats.conf" <<EOF
# written by scripts/cluster.sh; rewritten on every start
server_name: $node
listen: $HOST:$(nats_port "$n")
http: $HOST:$(nats_http_port "$n")
max_payload: 8MB
jetstream {
  store_dir: "$d/jetstream"
  max_memory_store: 256MB
  max_file_store: 4GB
}
cluster {
  name: $CLUSTER_NAME
  listen: $HOST:$(nats_route_port "$n")
  routes: [ $(nats_routes) ]
}
EOF
  [[ -f $d/nats.log ]] && mv -f "$d/nats.log" "$d/nats.log.prev"
  pid=$(launch "$d/nats.log" "$NATS_BIN" -c "$d/nats.conf")
  printf '%s\n' "$pid" >"$d/nats.pid"
  log "$node: started pid $pid on $HOST:$(nats_port "$n")"
}

# /healthz without js-enabled-only: JetStream is current with the meta
# leader (so the cluster has formed), not only enabled.
nats_node_ready() { http_ok /healthz "$(nats_http_port "$2")"; }

nats_node_stop() {
  local pid
  if pid=$(node_pid "$1"); then
    log "$1: stopping pid $pid"
    stop_pid "$1" "$pid" 30
  fi
  rm -f "$DIR/$1/nats.pid"
}

# ---------------------------------------------------------------- generic

broker_kind() {
  case $1 in
  kafka) echo kafka ;;
  amqp | rabbitmq | rabbit) echo rabbit ;;
  nats) echo nats ;;
  *) die "unknown broker '$1' (kafka, amqp, nats)" ;;
  esac
}

# select_kinds ARGS...: KINDS from broker names (all when none).
select_kinds() {
  KINDS=()
  [[ $# -eq 0 ]] && set -- kafka amqp nats
  local b
  for b in "$@"; do KINDS+=("$(broker_kind "$b")"); done
}

kind_timeout() {
  case $1 in
  kafka) echo "${HERALD_KAFKA_TIMEOUT:-180}" ;;
  rabbit) echo "${HERALD_RABBITMQ_TIMEOUT:-90}" ;;
  nats) echo "${HERALD_NATS_TIMEOUT:-30}" ;;
  esac
}

kind_prepare() {
  case $1 in
  kafka) prepare_kafka ;;
  rabbit) prepare_rabbitmq ;;
  nats) prepare_nats ;;
  esac
}

node_logs() {
  parse_node "$1"
  case $NODE_KIND in
  kafka) echo "$DIR/$1/kafka.out $DIR/$1/kafka.log" ;;
  rabbit) echo "$DIR/$1/startup.log $(compgen -G "$DIR/$1/log/*.log" | tr '\n' ' ')" ;;
  nats) echo "$DIR/$1/nats.log" ;;
  esac
}

# wait_nodes SECONDS NODE...: wait until every NODE is ready.
wait_nodes() {
  local secs=$1 node pending t0 pid
  shift
  t0=$(now)
  local -a left=("$@")
  while ((${#left[@]} > 0)); do
    pending=()
    for node in "${left[@]}"; do
      parse_node "$node"
      if "${NODE_KIND}_node_ready" "$node" "$NODE_N"; then
        log "$node: ready ($(($(now) - t0))s)"
        continue
      fi
      if [[ $NODE_KIND != rabbit ]] && ! pid=$(node_pid "$node"); then
        # shellcheck disable=SC2046
        show_tail $(node_logs "$node")
        die "$node: exited during startup (logs above)"
      fi
      pending+=("$node")
    done
    left=("${pending[@]}")
    ((${#left[@]} == 0)) && break
    if (($(now) - t0 >= secs)); then
      for node in "${left[@]}"; do
        # shellcheck disable=SC2046
        show_tail $(node_logs "$node")
      done
      die "not ready after ${secs}s: ${left[*]} (left running; scripts/cluster.sh down stops them)"
    fi
    sleep 0.5
  done
}

kind_nodes() {
  local n
  for ((n = 1; n <= NODES_PER_BROKER; n++)); do echo "$1$n"; done
}

# kinds_up KIND...: launch every node of every KIND, then wait for them
# all (the brokers start side by side), then form the RabbitMQ cluster.
kinds_up() {
  local kind node n secs=0 t
  local -a nodes=()
  for kind in "$@"; do
    for node in $(kind_nodes "$kind"); do
      parse_node "$node"
      "${kind}_node_launch" "$node" "$NODE_N"
      nodes+=("$node")
    done
    t=$(kind_timeout "$kind")
    ((t > secs)) && secs=$t
  done
  wait_nodes "$secs" "${nodes[@]}"
  for kind in "$@"; do
    if [[ $kind == rabbit ]]; then
      for ((n = 2; n <= NODES_PER_BROKER; n++)); do rabbit_join "rabbit$n"; done
    fi
  done
}

# kind_down KIND: stop its nodes side by side (stopped one after the
# other, the last Kafka broker waits for a controller quorum that is gone
# until it is SIGKILLed).
kind_down() {
  local kind=$1 node pid failed=0
  local -a jobs=()
  for node in $(kind_nodes "$kind"); do
    ("${kind}_node_stop" "$node") &
    jobs+=("$!")
  done
  for pid in "${jobs[@]}"; do wait "$pid" || failed=1; done
  [[ $kind == rabbit ]] && rabbit_stop_epmd
  return "$failed"
}

# kinds_down KIND...: the kinds side by side.
kinds_down() {
  local kind pid failed=0
  local -a jobs=()
  for kind in "$@"; do
    (kind_down "$kind") &
    jobs+=("$!")
  done
  for pid in "${jobs[@]}"; do wait "$pid" || failed=1; done
  ((failed == 0)) || die "some nodes did not stop (see above)"
}

env_lines() {
  local kind=$1 n hosts=
  for ((n = 1; n <= NODES_PER_BROKER; n++)); do
    hosts+="${hosts:+,}$HOST:$("${kind}_port" "$n")"
  done
  case $kind in
  kafka)
    echo "export HERALD_CLUSTER_KAFKA=kafka://$hosts"
    if [[ -n ${HERALD_CLUSTER_KAFKA_PROXY_PORTS:-} ]]; then
      local proxied= upstreams=
      for ((n = 1; n <= NODES_PER_BROKER; n++)); do
        proxied+="${proxied:+,}$HOST:$(kafka_proxy_port "$n")"
        upstreams+="${upstreams:+,}$HOST:$(kafka_proxied_port "$n")"
      done
      echo "export HERALD_CLUSTER_KAFKA_PROXIED=kafka://$proxied"
      echo "export HERALD_CLUSTER_KAFKA_PROXY_UPSTREAMS=$upstreams"
    fi
    ;;
  rabbit) echo "export HERALD_CLUSTER_AMQP=amqp://guest:guest@$hosts/" ;;
  nats) echo "export HERALD_CLUSTER_NATS=nats://$hosts" ;;
  esac
  for ((n = 1; n <= NODES_PER_BROKER; n++)); do
    echo "export HERALD_CLUSTER_NODES_${kind^^}$n=$HOST:$("${kind}_port" "$n")"
  done
}

env_common() {
  echo "export HERALD_CLUSTER_SCRIPT=$CLUSTER_SCRIPT"
  echo "export HERALD_CLUSTER_PORT_BASE=$BASE"
  echo "export HERALD_CLUSTER_DIR=$DIR"
}

node_status() {
  local node=$1 pid
  parse_node "$node"
  local port
  port=$("${NODE_KIND}_port" "$NODE_N")
  if pid=$(node_pid "$node") && "${NODE_KIND}_node_ready" "$node" "$NODE_N"; then
    printf '%-8s up    pid %-7s %s:%s\n' "$node" "$pid" "$HOST" "$port"
  elif [[ -n ${pid:-} ]]; then
    printf '%-8s starting/unhealthy  pid %s\n' "$node" "$pid"
    return 1
  else
    printf '%-8s down\n' "$node"
    return 1
  fi
}

# leader BROKER NAME: the node that leads NAME.
cmd_leader() {
  local kind node n out
  kind=$(broker_kind "${1:-}")
  local name=${2:-}
  [[ -n $name ]] || die "leader needs a name: leader nats STREAM | leader amqp QUEUE"
  case $kind in
  nats)
    for node in $(kind_nodes nats); do
      parse_node "$node"
      out=$(curl -fsS -m 3 "http://$HOST:$(nats_http_port "$NODE_N")/jsz?accounts=true&streams=true" 2>/dev/null) || continue
      out=$(jq -r --arg s "$name" '[.account_details[]?.stream_detail[]? | select(.name == $s) | .cluster.leader // empty][0] // empty' <<<"$out")
      [[ -n $out ]] && { echo "$out"; return 0; }
    done
    die "no running NATS node knows a leader for stream '$name'"
    ;;
  rabbit)
    for node in $(kind_nodes rabbit); do
      node_pid "$node" >/dev/null || continue
      out=$(rmqn "$node" 30 rabbitmqctl -q list_queues name type leader --formatter json 2>/dev/null) || continue
      out=$(jq -r --arg q "$name" '[.[] | select(.name == $q) | .leader // empty][0] // empty' <<<"$out")
      [[ -n $out ]] && { echo "${out%@*}"; return 0; }
    done
    die "no running RabbitMQ node knows a leader for queue '$name' (only quorum queues have one)"
    ;;
  kafka) die "leader kafka: not supported by this script; use kadm (franz-go) Metadata / ListPartitionReassignments in the harness" ;;
  esac
}

cluster_lock() {
  mkdir -p "$DIR"
  exec 9>"$DIR/.lock"
  flock -w 600 9 || die "another scripts/cluster.sh holds $DIR/.lock"
}

cluster_main() {
  local cmd=${1:-}
  [[ -n $cmd ]] || cluster_usage
  shift
  case $cmd in
  up)
    select_kinds "$@"
    cluster_lock
    mkdir -p "$CACHE"
    local kind pid failed=0 t0
    t0=$(now)
    local -a jobs=()
    for kind in "${KINDS[@]}"; do
      (kind_prepare "$kind") &
      jobs+=("$!")
    done
    for pid in "${jobs[@]}"; do wait "$pid" || failed=1; done
    ((failed == 0)) || die "could not install everything needed (see above)"
    kinds_up "${KINDS[@]}"
    log "up: $(($(now) - t0))s"
    env_common
    for kind in "${KINDS[@]}"; do env_lines "$kind"; done
    ;;
  down)
    select_kinds "$@"
    cluster_lock
    local t0
    t0=$(now)
    kinds_down "${KINDS[@]}"
    log "down: $(($(now) - t0))s"
    ;;
  wipe)
    cluster_lock
    kinds_down kafka rabbit nats
    [[ $DIR == "$HOME"/* || -n ${HERALD_CLUSTER_DIR:-} ]] || die "not deleting $DIR"
    rm -rf "$DIR"
    log "deleted $DIR"
    ;;
  status)
    select_kinds "$@"
    local kind node rc=0
    for kind in "${KINDS[@]}"; do
      for node in $(kind_nodes "$kind"); do node_status "$node" || rc=3; done
    done
    return "$rc"
    ;;
  nodes)
    select_kinds "$@"
    local kind node pid
    for kind in "${KINDS[@]}"; do
      for node in $(kind_nodes "$kind"); do
        pid=$(node_pid "$node") || pid=-
        echo "$node $pid $HOST:$(node_port "$node")"
      done
    done
    ;;
  env)
    select_kinds "$@"
    local kind
    env_common
    for kind in "${KINDS[@]}"; do env_lines "$kind"; done
    ;;
  pid)
    [[ $# -eq 1 ]] || die "pid needs one node"
    node_pid "$1" || die "$1 is not running"
    ;;
  kill)
    [[ $# -eq 1 ]] || die "kill needs one node"
    local pid
    pid=$(node_pid "$1") || die "$1 is not running"
    kill -KILL "$pid"
    wait_gone "$pid" 10 || die "$1 (pid $pid) still there 10s after SIGKILL"
    log "$1: killed pid $pid"
    ;;
  stop)
    [[ $# -eq 1 ]] || die "stop needs one node"
    parse_node "$1"
    "${NODE_KIND}_node_stop" "$1"
    ;;
  restart)
    [[ $# -eq 1 ]] || die "restart needs one node"
    cluster_lock
    parse_node "$1"
    local node=$1 kind=$NODE_KIND n=$NODE_N t0
    t0=$(now)
    kind_prepare "$kind"
    node_pid "$node" >/dev/null && "${kind}_node_stop" "$node"
    "${kind}_node_launch" "$node" "$n"
    wait_nodes "$(kind_timeout "$kind")" "$node"
    [[ $kind == rabbit && $n -gt 1 ]] && rabbit_join "$node"
    log "$node: restart took $(($(now) - t0))s"
    ;;
  leader) cmd_leader "$@" ;;
  rabbitmqctl | rabbitmq-diagnostics | rabbitmq-queues)
    [[ $# -ge 1 ]] || die "$cmd needs a node: $cmd rabbit1 ARGS..."
    local node=$1
    shift
    rmqn "$node" 0 "$cmd" "$@"
    ;;
  -h | --help | help) cluster_usage 0 ;;
  *) cluster_usage ;;
  esac
}

cluster_usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$CLUSTER_SCRIPT" >&2
  exit "${1:-2}"
}

cluster_main "$@"
