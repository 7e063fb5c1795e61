#!/usr/bin/env bash
# scripts/brokers.sh: run the brokers Herald's integration tests need, on
# 127.0.0.1 only, without Docker.
#
#   scripts/brokers.sh up [kafka|rabbitmq|nats|postgres ...]  install if needed, start, wait until ready
#   scripts/brokers.sh down [BROKER ...]              stop (data is kept in the state dir)
#   scripts/brokers.sh status [BROKER ...]            one line per broker; exit 3 if any is down
#   scripts/brokers.sh env [BROKER ...]               print the export lines for the tests
#   scripts/brokers.sh restart BROKER ...             stop and start, keeping data (reconnect tests)
#   scripts/brokers.sh reset [BROKER ...]             stop and delete the data (topics, streams,
#                                                     queues, databases); `up` starts empty. CI
#                                                     runs it first: days of test runs leave
#                                                     thousands of Kafka topics, which slow the
#                                                     broker's start past its timeout and end in
#                                                     an OutOfMemoryError of its 512 MB heap
#   scripts/brokers.sh rabbitmqctl ARGS...            rabbitmqctl against our node
#
# With no BROKER, all four. `up` ends by printing the export lines on stdout
# (everything else goes to stderr), so this works:
#   eval "$(scripts/brokers.sh up | grep ^export)"
#
#   kafka     Apache Kafka (KRaft, broker+controller) from Maven Central jars
#             127.0.0.1:9092 (PLAINTEXT), 127.0.0.1:9093 (CONTROLLER)
#   rabbitmq  Debian's rabbitmq-server (apt-get installed when missing and root)
#             127.0.0.1:5672, epmd 127.0.0.1:4369, distribution 127.0.0.1:25672
#             (AMQP 1.0 on 5672 too: plugin rabbitmq_amqp1_0;
#             HERALD_RABBITMQ_MANAGEMENT=1: management plugin on 127.0.0.1:15672)
#   nats      nats-server built with `go install`, JetStream on
#             127.0.0.1:4222, monitoring 127.0.0.1:8222
#   postgres  Debian's postgresql-15 (apt-get installed when missing and root)
#             127.0.0.1:5433 (not 5432: never the machine's own cluster),
#             user postgres, trust authentication on loopback, fsync off
#             (a test database); run as the postgres user when root
#
# Environment:
#   HERALD_CACHE          jars, maven repo, nats-server binary (default ~/.cache/herald)
#   HERALD_STATE          data, logs, pid files (default ~/.cache/herald/state)
#   HERALD_KAFKA_VERSION  org.apache.kafka:kafka_2.13 version (default 4.4.0)
#   HERALD_KAFKA_HEAP     JVM heap options (default "-Xms256m -Xmx512m")
#   HERALD_NATS_VERSION   nats-server module version (default v2.15.2)
#   HERALD_RABBITMQ_MANAGEMENT=1  enable rabbitmq_management (and rabbitmqadmin);
#                         off by default: it makes `restart rabbitmq` ~6 s instead of ~1.5 s
#   HERALD_POSTGRES_PORT  PostgreSQL's port (default 5433)
#   HERALD_POSTGRES_DATA  its data directory (default /var/lib/herald/postgres when
#                         root, since the postgres user cannot enter /root; else
#                         $HERALD_STATE/postgres)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${HERALD_CACHE:-$HOME/.cache/herald}
STATE=${HERALD_STATE:-$HOME/.cache/herald/state}

KAFKA_VERSION=${HERALD_KAFKA_VERSION:-4.4.0}
KAFKA_HEAP=${HERALD_KAFKA_HEAP:--Xms256m -Xmx512m}
NATS_VERSION=${HERALD_NATS_VERSION:-v2.15.2}
RABBITMQ_MANAGEMENT=${HERALD_RABBITMQ_MANAGEMENT:-0}

HOST=127.0.0.1
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
AMQP_PORT=5672
RABBITMQ_DIST_PORT=25672
RABBITMQ_MGMT_PORT=15672
EPMD_PORT=4369
NATS_PORT=4222
NATS_HTTP_PORT=8222
PG_PORT=${HERALD_POSTGRES_PORT:-5433}

KAFKA_TIMEOUT=${HERALD_KAFKA_TIMEOUT:-120}
RABBITMQ_TIMEOUT=${HERALD_RABBITMQ_TIMEOUT:-60}
NATS_TIMEOUT=${HERALD_NATS_TIMEOUT:-20}
PG_TIMEOUT=${HERALD_POSTGRES_TIMEOUT:-60}

ALL_BROKERS=(kafka rabbitmq nats postgres)

KAFKA_LIBS=$CACHE/kafka-$KAFKA_VERSION/libs
KAFKA_STATE=$STATE/kafka
NATS_BIN=$CACHE/nats-server-$NATS_VERSION/bin/nats-server
NATS_STATE=$STATE/nats
RMQ_STATE=$STATE/rabbitmq
if [[ $(id -u) -eq 0 ]]; then
  PG_STATE=${HERALD_POSTGRES_DATA:-/var/lib/herald/postgres}
else
  PG_STATE=${HERALD_POSTGRES_DATA:-$STATE/postgres}
fi
PG_DATA=$PG_STATE/data

# ---------------------------------------------------------------- helpers

log() { printf '[brokers] %s\n' "$*" >&2; }
die() { printf '[brokers] ERROR: %s\n' "$*" >&2; exit 1; }

now() { date +%s; }

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# pid_alive PIDFILE PATTERN: the pid in PIDFILE is running and its command line
# contains PATTERN (guards against a recycled pid). Prints the pid.
pid_alive() {
  local file=$1 pattern=$2 pid
  [[ -s $file ]] || return 1
  pid=$(tr -dc '0-9' <"$file")
  [[ -n $pid ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r /proc/$pid/cmdline ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$pattern" || return 1
  fi
  printf '%s\n' "$pid"
}

# wait_gone PID SECONDS: wait until PID has exited; 1 if it has not.
wait_gone() {
  local pid=$1 deadline=$(($(now) + $2))
  while kill -0 "$pid" 2>/dev/null; do
    (($(now) < deadline)) || return 1
    sleep 0.2
  done
}

# stop_pid NAME PID SECONDS: SIGTERM, wait, then SIGKILL.
stop_pid() {
  local name=$1 pid=$2 grace=$3
  kill -TERM "$pid" 2>/dev/null || return 0
  if ! wait_gone "$pid" "$grace"; then
    log "$name (pid $pid) still running after ${grace}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || die "$name (pid $pid) would not exit"
  fi
}

# show_tail FILE...: the end of log files, to stderr, after a failure.
show_tail() {
  local f
  for f in "$@"; do
    [[ -s $f ]] || continue
    printf -- '----- last lines of %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2
  done
}

# http_ok URL-PATH PORT: GET http://127.0.0.1:PORT/PATH answers 200.
http_ok() {
  local path=$1 port=$2
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -m 3 -o /dev/null "http://$HOST:$port$path" 2>/dev/null
  else
    local status
    status=$(
      exec 3<>"/dev/tcp/$HOST/$port" || exit 1
      printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$HOST" >&3
      timeout 3 head -n 1 <&3
    ) 2>/dev/null || return 1
    [[ $status == *" 200 "* ]]
  fi
}

# port_owner PORT: who listens on PORT (for error messages).
port_owner() {
  ss -ltnpH "sport = :$1" 2>/dev/null | head -n 3 || true
}

java_major() {
  java -version 2>&1 | sed -n '1s/.*version "\([0-9]*\)[."].*/\1/p'
}

# launch LOGFILE CMD...: start CMD in its own session, detached from this
# shell (stdin /dev/null, our lock fd closed), output appended to LOGFILE.
# Prints the pid.
launch() {
  local out=$1
  shift
  setsid "$@" </dev/null >>"$out" 2>&1 9>&- &
  printf '%s\n' "$!"
}

# apt_install NAME PACKAGE...: apt-get install as root, one at a time (the
# brokers are prepared in parallel and dpkg has one lock), with an apt-get
# update and a retry when the lists are stale. Output in $STATE/apt.log.
apt_install() {
  local name=$1
  shift
  [[ $(id -u) -eq 0 ]] || die "$name: $* not installed: sudo apt-get install -y $*"
  command -v apt-get >/dev/null 2>&1 || die "$name: $* not installed and apt-get is missing"
  local t0
  t0=$(now)
  log "$name: installing Debian's $* with apt-get"
  (
    flock -w 900 8 || die "$name: another apt-get install held $STATE/.apt.lock for 15 min"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "$@" >>"$STATE/apt.log" 2>&1; then
      log "$name: apt-get install failed; running apt-get update and retrying"
      apt-get update -q >>"$STATE/apt.log" 2>&1 || true
      if ! apt-get install -y -q --no-install-recommends "$@" >>"$STATE/apt.log" 2>&1; then
        show_tail "$STATE/apt.log"
        die "$name: apt-get install -y $* failed (log above, full log $STATE/apt.log)"
      fi
    fi
  ) 8>"$STATE/.apt.lock"
  log "$name: installed ($(($(now) - t0))s)"
}

# ------------------------------------------------------------------ kafka

kafka_running() { pid_alive "$KAFKA_STATE/kafka.pid" 'kafka.Kafka'; }

prepare_kafka() {
  command -v java >/dev/null 2>&1 ||
    die "java not found: apt-get install -y openjdk-17-jre-headless (Kafka $KAFKA_VERSION needs Java 17+)"
  local major
  major=$(java_major)
  [[ -n $major && $major -ge 17 ]] ||
    die "java $major found, Kafka $KAFKA_VERSION needs Java 17+: apt-get install -y openjdk-17-jre-headless"
  [[ -f $KAFKA_LIBS/.complete ]] && return 0
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found (needed once to fetch the Kafka jars from Maven Central): apt-get install -y maven"
  log "kafka: resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION with Maven into $KAFKA_LIBS"
  local t0 out
  t0=$(now)
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$KAFKA_LIBS" "$CACHE/m2"
  if ! out=$(mvn -q -B -Dstyle.color=never -f "$SCRIPT_DIR/kafka/pom.xml" \
    -Dmaven.repo.local="$CACHE/m2" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$KAFKA_LIBS" 2>&1); then
    printf '%s\n' "$out" | tail -n 30 >&2
    die "mvn failed to resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (see above; Maven Central must be reachable, or set HERALD_KAFKA_VERSION to a version it serves)"
  fi
  compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null ||
    die "mvn ran but no kafka_2.13 jar is in $KAFKA_LIBS"
  touch "$KAFKA_LIBS/.complete"
  log "kafka: jars ready ($(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars, $(($(now) - t0))s)"
}

kafka_write_config() {
  mkdir -p "$KAFKA_STATE/data"
  cat >"$KAFKA_STATE/server.properties" <<EOF
# written by scripts/brokers.sh; rewritten on every start
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_STATE/data
num.network.threads=2
num.io.threads=4
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
EOF
  # shutdownHook = disable: Kafka logs until its own hook ends; the file
  # appender flushes every line.
  cat >"$KAFKA_STATE/log4j2.properties" <<EOF
status = warn
shutdownHook = disable
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = $KAFKA_STATE/kafka.log
appender.file.filePattern = $KAFKA_STATE/kafka.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
EOF
  cat >"$KAFKA_STATE/log4j2-tools.properties" <<'EOF'
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

kafka_format() {
  [[ -f $KAFKA_STATE/data/meta.properties ]] && return 0
  local cid out
  # A Kafka Uuid: 16 random bytes, URL-safe base64 without padding, not starting with '-'.
  cid=-
  while [[ $cid == -* ]]; do
    cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  done
  log "kafka: formatting $KAFKA_STATE/data (cluster id $cid)"
  if ! out=$(java -Dlog4j2.configurationFile="$KAFKA_STATE/log4j2-tools.properties" \
    -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format \
    -t "$cid" -c "$KAFKA_STATE/server.properties" --ignore-formatted 2>&1); then
    printf '%s\n' "$out" >&2
    die "kafka: storage format failed"
  fi
}

# kafka_api_versions: the broker answers an ApiVersions (v0) request without error.
kafka_api_versions() {
  local hex
  hex=$(
    exec 3<>"/dev/tcp/$HOST/$KAFKA_PORT" || exit 1
    # size=14, api_key=18 ApiVersions, api_version=0, correlation_id=1, client_id="hrld"
    printf '\x00\x00\x00\x0e\x00\x12\x00\x00\x00\x00\x00\x01\x00\x04hrld' >&3
    timeout 5 od -An -tx1 -N10 <&3
  ) 2>/dev/null || return 1
  hex=${hex//[[:space:]]/}
  # bytes 4-7: correlation id 1; bytes 8-9: error code 0
  [[ ${#hex} -eq 20 && ${hex:8} == 000000010000 ]]
}

start_kafka() {
  local pid
  if pid=$(kafka_running); then
    log "kafka: already running (pid $pid)"
    return 0
  fi
  if port_open "$KAFKA_PORT" || port_open "$KAFKA_CONTROLLER_PORT"; then
    if kafka_api_versions; then
      log "kafka: a Kafka not started by this script already answers on $HOST:$KAFKA_PORT; using it"
      return 0
    fi
    die "kafka: port $KAFKA_PORT or $KAFKA_CONTROLLER_PORT is in use by another process: $(port_owner "$KAFKA_PORT") $(port_owner "$KAFKA_CONTROLLER_PORT")"
  fi
  local t0
  t0=$(now)
  kafka_write_config
  kafka_format
  [[ -f $KAFKA_STATE/kafka.log ]] && mv -f "$KAFKA_STATE/kafka.log" "$KAFKA_STATE/kafka.log.prev"
  [[ -f $KAFKA_STATE/kafka.out ]] && mv -f "$KAFKA_STATE/kafka.out" "$KAFKA_STATE/kafka.out.prev"
  # shellcheck disable=SC2086 # KAFKA_HEAP is a list of JVM options
  pid=$(launch "$KAFKA_STATE/kafka.out" java $KAFKA_HEAP \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_STATE/log4j2.properties" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_STATE/server.properties")
  printf '%s\n' "$pid" >"$KAFKA_STATE/kafka.pid"
  log "kafka: started pid $pid, waiting up to ${KAFKA_TIMEOUT}s (log: $KAFKA_STATE/kafka.log)"
  local deadline=$((t0 + KAFKA_TIMEOUT))
  until grep -qs 'Kafka Server started' "$KAFKA_STATE/kafka.log" && kafka_api_versions; do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_tail "$KAFKA_STATE/kafka.out" "$KAFKA_STATE/kafka.log"
      rm -f "$KAFKA_STATE/kafka.pid"
      die "kafka: the broker exited during startup (logs above)"
    fi
    if (($(now) >= deadline)); then
      show_tail "$KAFKA_STATE/kafka.out" "$KAFKA_STATE/kafka.log"
      die "kafka: not ready after ${KAFKA_TIMEOUT}s (pid $pid left running; scripts/brokers.sh down kafka stops it)"
    fi
    sleep 0.5
  done
  log "kafka: ready on $HOST:$KAFKA_PORT ($(($(now) - t0))s)"
}

stop_kafka() {
  local pid
  if pid=$(kafka_running); then
    log "kafka: stopping pid $pid"
    stop_pid kafka "$pid" 60
  fi
  rm -f "$KAFKA_STATE/kafka.pid"
}

reset_kafka() {
  log "kafka: deleting $KAFKA_STATE/data"
  rm -rf "$KAFKA_STATE/data"
}

status_kafka() {
  local pid
  if pid=$(kafka_running) && kafka_api_versions; then
    echo "kafka     up    pid $pid  $HOST:$KAFKA_PORT"
  elif [[ -n ${pid:-} ]]; then
    echo "kafka     starting/unhealthy  pid $pid"; return 1
  elif kafka_api_versions; then
    echo "kafka     up    (not started by this script)  $HOST:$KAFKA_PORT"
  else
    echo "kafka     down"; return 1
  fi
}

# --------------------------------------------------------------- rabbitmq

rmq_bin_dir() {
  if [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]]; then
    # Debian: call the real scripts, not the /usr/sbin wrappers that su to
    # the rabbitmq user (which could not read a state dir under $HOME).
    echo /usr/lib/rabbitmq/bin
  elif command -v rabbitmq-server >/dev/null 2>&1; then
    dirname "$(command -v rabbitmq-server)"
  else
    return 1
  fi
}

# rmq SECONDS CMD ARGS...: run a RabbitMQ script (rabbitmqctl,
# rabbitmq-diagnostics, rabbitmq-server) with our node's environment, killed
# after SECONDS (0: no limit).
rmq() {
  local secs=$1 cmd=$2 bin
  shift 2
  local -a limit=()
  ((secs > 0)) && limit=(timeout "$secs")
  bin=$(rmq_bin_dir) || die "rabbitmq-server not found"
  # rabbitmq_amqp1_0: AMQP 1.0 on the same listener (cloudevents/cetest's
  # go-amqp tests); the management plugin only when asked for.
  local plugins=rabbitmq_amqp1_0
  [[ $RABBITMQ_MANAGEMENT == 1 ]] && plugins+=,rabbitmq_management
  mkdir -p "$RMQ_STATE/home" "$RMQ_STATE/mnesia" "$RMQ_STATE/log"
  [[ -f $RMQ_STATE/rabbitmq-env.conf ]] || : >"$RMQ_STATE/rabbitmq-env.conf"
  env \
    HOME="$RMQ_STATE/home" \
    RABBITMQ_NODENAME=herald@localhost \
    RABBITMQ_CONF_ENV_FILE="$RMQ_STATE/rabbitmq-env.conf" \
    RABBITMQ_CONFIG_FILE="$RMQ_STATE/rabbitmq.conf" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ_STATE/advanced.config" \
    RABBITMQ_MNESIA_BASE="$RMQ_STATE/mnesia" \
    RABBITMQ_LOG_BASE="$RMQ_STATE/log" \
    RABBITMQ_PID_FILE="$RMQ_STATE/rabbitmq.pid" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_STATE/enabled_plugins" \
    RABBITMQ_ENABLED_PLUGINS="$plugins" \
    RABBITMQ_NODE_IP_ADDRESS="$HOST" \
    RABBITMQ_NODE_PORT="$AMQP_PORT" \
    RABBITMQ_DIST_PORT="$RABBITMQ_DIST_PORT" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    ERL_EPMD_ADDRESS="$HOST" \
    ERL_EPMD_PORT="$EPMD_PORT" \
    "${limit[@]}" "$bin/$cmd" "$@"
}

rabbitmq_running() { pid_alive "$RMQ_STATE/rabbitmq.pid" 'beam'; }
rabbitmq_ping() { rmq 15 rabbitmq-diagnostics -q ping >/dev/null 2>&1; }

prepare_rabbitmq() {
  rmq_bin_dir >/dev/null && return 0
  # The package's postinst cannot start the service here (policy-rc.d); keep
  # whatever epmd it might start on loopback.
  export ERL_EPMD_ADDRESS=$HOST
  apt_install rabbitmq rabbitmq-server
  rmq_bin_dir >/dev/null || die "rabbitmq: rabbitmq-server still not found after apt-get install"
}

rabbitmq_write_config() {
  mkdir -p "$RMQ_STATE"
  {
    echo "# written by scripts/brokers.sh; rewritten on every start"
    echo "listeners.tcp.default = $HOST:$AMQP_PORT"
    echo "loopback_users.guest = true"
    echo "log.console = false"
    echo "log.file.level = info"
    if [[ $RABBITMQ_MANAGEMENT == 1 ]]; then
      echo "management.tcp.ip = $HOST"
      echo "management.tcp.port = $RABBITMQ_MGMT_PORT"
    fi
  } >"$RMQ_STATE/rabbitmq.conf"
}

# Our own epmd on loopback, so that we know its pid (and the Erlang VM does
# not start one bound to every interface).
start_epmd() {
  port_open "$EPMD_PORT" && return 0
  local epmd
  epmd=$(command -v epmd 2>/dev/null || compgen -G '/usr/lib/erlang/erts-*/bin/epmd' | head -n 1 || true)
  [[ -n $epmd && -x $epmd ]] || die "rabbitmq: epmd not found (package erlang-base)"
  local pid
  pid=$(launch "$RMQ_STATE/epmd.log" "$epmd" -address "$HOST" -port "$EPMD_PORT")
  printf '%s\n' "$pid" >"$RMQ_STATE/epmd.pid"
  local i
  for ((i = 0; i < 50; i++)); do
    port_open "$EPMD_PORT" && return 0
    sleep 0.1
  done
  show_tail "$RMQ_STATE/epmd.log"
  die "rabbitmq: epmd did not start on $HOST:$EPMD_PORT"
}

start_rabbitmq() {
  local pid
  if pid=$(rabbitmq_running); then
    log "rabbitmq: already running (pid $pid)"
    return 0
  fi
  if port_open "$AMQP_PORT"; then
    log "rabbitmq: something not started by this script already listens on $HOST:$AMQP_PORT; using it: $(port_owner "$AMQP_PORT")"
    return 0
  fi
  local t0
  t0=$(now)
  rabbitmq_write_config
  start_epmd
  rm -f "$RMQ_STATE/rabbitmq.pid"
  local out
  [[ -f $RMQ_STATE/startup.log ]] && mv -f "$RMQ_STATE/startup.log" "$RMQ_STATE/startup.log.prev"
  if ! rmq 60 rabbitmq-server -detached </dev/null >>"$RMQ_STATE/startup.log" 2>&1 9>&-; then
    show_tail "$RMQ_STATE/startup.log" "$RMQ_STATE"/log/*.log
    die "rabbitmq: rabbitmq-server -detached failed"
  fi
  log "rabbitmq: starting, waiting up to ${RABBITMQ_TIMEOUT}s (logs: $RMQ_STATE/log)"
  local deadline=$((t0 + RABBITMQ_TIMEOUT))
  until rabbitmq_ping; do
    if (($(now) >= deadline)); then
      show_tail "$RMQ_STATE"/log/*.log
      die "rabbitmq: no answer to rabbitmq-diagnostics ping after ${RABBITMQ_TIMEOUT}s"
    fi
    sleep 0.5
  done
  if ! out=$(rmq "$RABBITMQ_TIMEOUT" rabbitmqctl -q await_startup 2>&1); then
    printf '%s\n' "$out" >&2
    show_tail "$RMQ_STATE"/log/*.log
    die "rabbitmq: rabbitmqctl await_startup failed"
  fi
  until port_open "$AMQP_PORT"; do
    (($(now) < deadline)) || die "rabbitmq: started but $HOST:$AMQP_PORT is not open"
    sleep 0.2
  done
  pid=$(rabbitmq_running) || pid='?'
  log "rabbitmq: ready on $HOST:$AMQP_PORT, pid $pid ($(($(now) - t0))s)"
}

stop_rabbitmq() {
  local pid=
  if pid=$(rabbitmq_running); then
    log "rabbitmq: stopping pid $pid"
    rmq 60 rabbitmqctl -q shutdown >/dev/null 2>&1 || true
    stop_pid rabbitmq "$pid" 30
  fi
  rm -f "$RMQ_STATE/rabbitmq.pid"
  if pid=$(pid_alive "$RMQ_STATE/epmd.pid" epmd); then
    log "rabbitmq: stopping epmd pid $pid"
    stop_pid epmd "$pid" 10
  fi
  rm -f "$RMQ_STATE/epmd.pid"
}

restart_rabbitmq() {
  local pid t0
  if ! pid=$(rabbitmq_running); then
    start_rabbitmq
    return
  fi
  t0=$(now)
  log "rabbitmq: stop_app/start_app on pid $pid"
  rmq 60 rabbitmqctl -q stop_app >/dev/null || die "rabbitmq: rabbitmqctl stop_app failed"
  rmq 60 rabbitmqctl -q start_app >/dev/null || die "rabbitmq: rabbitmqctl start_app failed"
  until port_open "$AMQP_PORT"; do
    (($(now) < t0 + RABBITMQ_TIMEOUT)) || die "rabbitmq: $HOST:$AMQP_PORT not open after start_app"
    sleep 0.2
  done
  log "rabbitmq: restarted ($(($(now) - t0))s)"
}

reset_rabbitmq() {
  log "rabbitmq: deleting $RMQ_STATE/mnesia"
  rm -rf "$RMQ_STATE/mnesia"
}

status_rabbitmq() {
  local pid
  if pid=$(rabbitmq_running) && port_open "$AMQP_PORT"; then
    echo "rabbitmq  up    pid $pid  $HOST:$AMQP_PORT"
  elif [[ -n ${pid:-} ]]; then
    echo "rabbitmq  starting/unhealthy  pid $pid"; return 1
  elif port_open "$AMQP_PORT"; then
    echo "rabbitmq  up    (not started by this script)  $HOST:$AMQP_PORT"
  else
    echo "rabbitmq  down"; return 1
  fi
}

# ------------------------------------------------------------------- nats

nats_running() { pid_alive "$NATS_STATE/nats.pid" 'nats-server'; }
nats_healthy() { http_ok '/healthz?js-enabled-only=true' "$NATS_HTTP_PORT"; }

prepare_nats() {
  [[ -x $NATS_BIN ]] && return 0
  command -v go >/dev/null 2>&1 ||
    die "go not found: install Go (1.24 or newer) to build nats-server $NATS_VERSION"
  log "nats: go install github.com/nats-io/nats-server/v2@$NATS_VERSION"
  local t0 out
  t0=$(now)
  mkdir -p "$(dirname "$NATS_BIN")"
  if ! out=$(cd / && GOFLAGS= CGO_ENABLED=0 GOBIN="$(dirname "$NATS_BIN")" \
    go install "github.com/nats-io/nats-server/v2@$NATS_VERSION" 2>&1); then
    printf '%s\n' "$out" | tail -n 30 >&2
    die "nats: go install github.com/nats-io/nats-server/v2@$NATS_VERSION failed (the Go module proxy must be reachable)"
  fi
  [[ -x $NATS_BIN ]] || die "nats: go install succeeded but $NATS_BIN is missing"
  log "nats: built $NATS_BIN ($(($(now) - t0))s)"
}

start_nats() {
  local pid
  if pid=$(nats_running); then
    log "nats: already running (pid $pid)"
    return 0
  fi
  if port_open "$NATS_PORT" || port_open "$NATS_HTTP_PORT"; then
    if nats_healthy; then
      log "nats: a NATS server not started by this script already answers on $HOST:$NATS_PORT; using it"
      return 0
    fi
    die "nats: port $NATS_PORT or $NATS_HTTP_PORT is in use by another process: $(port_owner "$NATS_PORT") $(port_owner "$NATS_HTTP_PORT")"
  fi
  local t0
  t0=$(now)
  mkdir -p "$NATS_STATE/jetstream"
  cat >"$NATS_STATE/nats.conf" <<EOF
# written by scripts/brokers.sh; rewritten on every start
server_name: herald
listen: $HOST:$NATS_PORT
http: $HOST:$NATS_HTTP_PORT
max_payload: 8MB
jetstream {
  store_dir: "$NATS_STATE/jetstream"
  max_memory_store: 256MB
  max_file_store: 4GB
}
EOF
  [[ -f $NATS_STATE/nats.log ]] && mv -f "$NATS_STATE/nats.log" "$NATS_STATE/nats.log.prev"
  pid=$(launch "$NATS_STATE/nats.log" "$NATS_BIN" -c "$NATS_STATE/nats.conf")
  printf '%s\n' "$pid" >"$NATS_STATE/nats.pid"
  local deadline=$((t0 + NATS_TIMEOUT))
  until nats_healthy; do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_tail "$NATS_STATE/nats.log"
      rm -f "$NATS_STATE/nats.pid"
      die "nats: nats-server exited during startup (log above)"
    fi
    if (($(now) >= deadline)); then
      show_tail "$NATS_STATE/nats.log"
      die "nats: not healthy after ${NATS_TIMEOUT}s (pid $pid left running)"
    fi
    sleep 0.1
  done
  log "nats: ready on $HOST:$NATS_PORT, pid $pid ($(($(now) - t0))s)"
}

stop_nats() {
  local pid
  if pid=$(nats_running); then
    log "nats: stopping pid $pid"
    stop_pid nats "$pid" 30
  fi
  rm -f "$NATS_STATE/nats.pid"
}

reset_nats() {
  log "nats: deleting $NATS_STATE/jetstream"
  rm -rf "$NATS_STATE/jetstream"
}

status_nats() {
  local pid
  if pid=$(nats_running) && nats_healthy; then
    echo "nats      up    pid $pid  $HOST:$NATS_PORT"
  elif [[ -n ${pid:-} ]]; then
    echo "nats      starting/unhealthy  pid $pid"; return 1
  elif nats_healthy; then
    echo "nats      up    (not started by this script)  $HOST:$NATS_PORT"
  else
    echo "nats      down"; return 1
  fi
}

# --------------------------------------------------------------- postgres

# pg_bin_dir: the directory of initdb and pg_ctl (Debian keeps them out of PATH).
pg_bin_dir() {
  local d
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [[ -x $d/initdb && -x $d/pg_ctl ]] && { echo "$d"; return 0; }
  done
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v pg_ctl)"
    return 0
  fi
  return 1
}

# pg CMD ARGS...: run a PostgreSQL program as the postgres user when root
# (PostgreSQL refuses to run as root), else as ourselves.
pg() {
  local bin cmd=$1
  shift
  bin=$(pg_bin_dir) || die "postgres: initdb/pg_ctl not found"
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$bin/$cmd" "$@"
  else
    "$bin/$cmd" "$@"
  fi
}

# postgres_running: the postmaster of our data directory runs (the first
# line of postmaster.pid is its pid). Prints the pid.
postgres_running() {
  local pid
  [[ -s $PG_DATA/postmaster.pid ]] || return 1
  pid=$(head -n 1 "$PG_DATA/postmaster.pid" | tr -dc '0-9')
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r /proc/$pid/cmdline ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q postgres || return 1
  fi
  printf '%s\n' "$pid"
}

# postgres_ready: the server on PG_PORT accepts connections.
postgres_ready() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$HOST" -p "$PG_PORT" -U postgres -t 3 >/dev/null 2>&1
  else
    port_open "$PG_PORT"
  fi
}

prepare_postgres() {
  pg_bin_dir >/dev/null && return 0
  apt_install postgres postgresql-15
  pg_bin_dir >/dev/null || die "postgres: initdb still not found after apt-get install postgresql-15"
}

start_postgres() {
  local pid
  if pid=$(postgres_running); then
    log "postgres: already running (pid $pid)"
    return 0
  fi
  if port_open "$PG_PORT"; then
    if postgres_ready; then
      log "postgres: a PostgreSQL not started by this script already answers on $HOST:$PG_PORT; using it"
      return 0
    fi
    die "postgres: port $PG_PORT is in use by another process: $(port_owner "$PG_PORT")"
  fi
  local t0 out
  t0=$(now)
  mkdir -p "$PG_STATE"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$PG_STATE"
  fi
  if [[ ! -f $PG_DATA/PG_VERSION ]]; then
    log "postgres: initdb $PG_DATA"
    rm -rf "$PG_DATA"
    if ! out=$(pg initdb -D "$PG_DATA" -A trust -U postgres -E UTF8 --no-sync 2>&1); then
      printf '%s\n' "$out" | tail -n 20 >&2
      die "postgres: initdb failed"
    fi
  fi
  [[ -f $PG_STATE/postgres.log ]] && mv -f "$PG_STATE/postgres.log" "$PG_STATE/postgres.log.prev"
  # The socket goes in the data directory: never /var/run/postgresql, which
  # belongs to the machine's own cluster.
  if ! out=$(pg pg_ctl -D "$PG_DATA" -l "$PG_STATE/postgres.log" -w -t "$PG_TIMEOUT" \
    -o "-c listen_addresses=$HOST -p $PG_PORT -k $PG_DATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start </dev/null 9>&- 2>&1); then
    printf '%s\n' "$out" >&2
    show_tail "$PG_STATE/postgres.log"
    die "postgres: pg_ctl start failed"
  fi
  until postgres_ready; do
    (($(now) < t0 + PG_TIMEOUT)) || { show_tail "$PG_STATE/postgres.log"; die "postgres: not ready after ${PG_TIMEOUT}s"; }
    sleep 0.2
  done
  pid=$(postgres_running) || pid='?'
  log "postgres: ready on $HOST:$PG_PORT, pid $pid ($(($(now) - t0))s)"
}

stop_postgres() {
  local pid
  if pid=$(postgres_running); then
    log "postgres: stopping pid $pid"
    pg pg_ctl -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || stop_pid postgres "$pid" 30
  fi
}

reset_postgres() {
  log "postgres: deleting $PG_DATA"
  rm -rf "$PG_DATA"
}

status_postgres() {
  local pid
  if pid=$(postgres_running) && postgres_ready; then
    echo "postgres  up    pid $pid  $HOST:$PG_PORT"
  elif [[ -n ${pid:-} ]]; then
    echo "postgres  starting/unhealthy  pid $pid"; return 1
  elif postgres_ready; then
    echo "postgres  up    (not started by this script)  $HOST:$PG_PORT"
  else
    echo "postgres  down"; return 1
  fi
}

# ------------------------------------------------------------------- main

env_line() {
  case $1 in
  kafka) echo "export HERALD_TEST_KAFKA=kafka://$HOST:$KAFKA_PORT" ;;
  rabbitmq) echo "export HERALD_TEST_AMQP=amqp://guest:guest@$HOST:$AMQP_PORT/" ;;
  nats) echo "export HERALD_TEST_NATS=nats://$HOST:$NATS_PORT" ;;
  postgres) echo "export HERALD_TEST_POSTGRES=postgres://postgres@$HOST:$PG_PORT/postgres?sslmode=disable" ;;
  esac
}

# usage [EXIT]: the header of this file, then exit (default 2).
usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
  exit "${1:-2}"
}

# select_brokers ARGS...: validate names into BROKERS (all when none).
select_brokers() {
  BROKERS=()
  local b
  [[ $# -eq 0 ]] && set -- "${ALL_BROKERS[@]}"
  for b in "$@"; do
    case $b in
    kafka | rabbitmq | nats | postgres) BROKERS+=("$b") ;;
    rabbit | amqp) BROKERS+=(rabbitmq) ;;
    postgresql | pg) BROKERS+=(postgres) ;;
    *) die "unknown broker '$b' (kafka, rabbitmq, nats, postgres)" ;;
    esac
  done
}

lock() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  flock -w 600 9 || die "another scripts/brokers.sh holds $STATE/.lock"
}

cmd_up() {
  local b pid failed=0
  local -a jobs=()
  # Installs and downloads run in parallel; starts run one after the other.
  for b in "${BROKERS[@]}"; do
    ("prepare_$b") &
    jobs+=("$!")
  done
  for pid in "${jobs[@]}"; do
    wait "$pid" || failed=1
  done
  ((failed == 0)) || die "could not install everything needed (see above)"
  for b in "${BROKERS[@]}"; do
    "start_$b"
  done
  for b in "${BROKERS[@]}"; do
    env_line "$b"
  done
}

main() {
  local cmd=${1:-}
  [[ -n $cmd ]] || usage
  shift
  case $cmd in
  up)
    select_brokers "$@"
    lock
    mkdir -p "$CACHE" "$KAFKA_STATE" "$RMQ_STATE" "$NATS_STATE"
    cmd_up
    ;;
  down)
    select_brokers "$@"
    lock
    local b
    for b in "${BROKERS[@]}"; do "stop_$b"; done
    ;;
  reset)
    select_brokers "$@"
    lock
    local b
    for b in "${BROKERS[@]}"; do
      "stop_$b"
      "reset_$b"
    done
    ;;
  restart)
    [[ $# -gt 0 ]] || die "restart needs a broker: kafka, rabbitmq, nats or postgres"
    select_brokers "$@"
    lock
    mkdir -p "$CACHE" "$KAFKA_STATE" "$RMQ_STATE" "$NATS_STATE"
    local b t0
    for b in "${BROKERS[@]}"; do
      t0=$(now)
      "prepare_$b"
      if [[ $b == rabbitmq ]]; then
        restart_rabbitmq
      else
        "stop_$b"
        "start_$b"
      fi
      log "$b: restart took $(($(now) - t0))s"
    done
    ;;
  status)
    select_brokers "$@"
    local b rc=0
    for b in "${BROKERS[@]}"; do "status_$b" || rc=3; done
    return "$rc"
    ;;
  env)
    select_brokers "$@"
    local b
    for b in "${BROKERS[@]}"; do env_line "$b"; done
    ;;
  rabbitmqctl | rabbitmq-diagnostics | rabbitmq-plugins | rabbitmq-queues)
    rmq 0 "$cmd" "$@"
    ;;
  -h | --help | help) usage 0 ;;
  *) usage ;;
  esac
}

# Sourced (by scripts/cluster.sh) for its functions: do not run main.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
