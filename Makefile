# Herald: see README.md. `make test` is the one command CI runs.
#
# The repository holds several Go modules (the library at the root,
# examples/, bench/, chaos/ and test modules: every directory with a
# go.mod). test, test-short and lint run each of them, on its own go.mod,
# through scripts/test.sh; PKGS are package patterns relative to the root
# (./... is every module, ./examples/... the examples module). The other
# targets cd into their module, so they work with or without go.work.
GO        ?= go
PKGS      ?= ./...
BENCHTIME ?= 3x
COUNT     ?= 1

.PHONY: bench-outbox test test-short lint fmt bench bench-compare fuzz stress brokers brokers-down brokers-status brokers-reset quickstart

## test: lint, then every test of every module; brings up Kafka, RabbitMQ
## and NATS via scripts/brokers.sh unless HERALD_TEST_* are already set.
test:
	scripts/test.sh $(PKGS)

## test-short: unit tests only, no brokers: -short makes every broker test
## skip (adaptertest.BrokerURL), and the HERALD_TEST_* variables are unset
## for good measure.
test-short:
	scripts/test.sh -short $(PKGS)

## lint: go.work lists every module; in each module go.mod is tidy, go vet
## and staticcheck pass; gofmt over every Go file.
lint:
	scripts/test.sh -lint

fmt:
	gofmt -w $$(git ls-files --cached --others --exclude-standard '*.go')

## bench: adapter benchmarks beside raw Watermill, same run (needs brokers).
bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -count $(COUNT) ./adapters/... ./middleware/...

## bench-compare: Herald beside the native clients (franz-go, amqp091-go,
## nats.go) and Watermill's stock adapters on Kafka, RabbitMQ and NATS
## JetStream, in one run (bench/, its own module); writes docs/performance.md
## and docs/performance-ratios.svg. The native cases keep Herald's default
## windows (native-defaults: the client's own, the ceiling); Kafka and NATS
## run 500k messages per case, RabbitMQ 50k; the CPU time of the process and
## of each broker (its pid from scripts/brokers.sh status) is reported per
## message. Brokers come from HERALD_TEST_*, else scripts/brokers.sh up.
## Takes a long while: run it alone on the machine.
## BENCH_FLAGS adds flags, e.g. BENCH_FLAGS='-brokers nats -sizes 1024'.
BENCH_N       ?= 500000
BENCH_N_AMQP  ?= 50000
BENCH_N_SYNC  ?= 50000
BENCH_N_LARGE ?= 5000
BENCH_ROUNDS  ?= 3
BENCH_FLAGS   ?=
bench-compare:
	@set -eu; \
	if [ -z "$${HERALD_TEST_KAFKA:-}" ] || [ -z "$${HERALD_TEST_AMQP:-}" ] || [ -z "$${HERALD_TEST_NATS:-}" ]; then \
		out=$$(scripts/brokers.sh up) || { echo "bench-compare: brokers could not be started (see above)" >&2; exit 1; }; \
		eval "$$(printf '%s\n' "$$out" | grep '^export ')"; \
	fi; \
	pids=$$(scripts/brokers.sh status 2>/dev/null | awk '$$2=="up" && $$3=="pid" {b=$$1; if (b=="rabbitmq") b="amqp"; if (b=="kafka"||b=="amqp"||b=="nats") printf "%s%s=%s", sep, b, $$4; sep=","}'); \
	args="-n $(BENCH_N) -n-amqp $(BENCH_N_AMQP) -n-sync $(BENCH_N_SYNC) -n-large $(BENCH_N_LARGE) -rounds $(BENCH_ROUNDS) $(BENCH_FLAGS)"; \
	cd bench && GOWORK=off HERALD_BENCH_COMMAND="make bench-compare (go run ./bench $$args)" \
		$(GO) run . $$args -broker-pids "$$pids" -out ../docs/performance.md -chart ../docs/performance-ratios.svg

## bench-outbox: the outbox relay beside Watermill's forwarder and the
## database's own insert rate (outbox/outboxbench, its own module), on
## PostgreSQL and SQLite, once through RabbitMQ and once through NATS
## JetStream; prints Markdown tables with the CPU per message of the
## process, the broker and PostgreSQL (pids from scripts/brokers.sh
## status). OUTBOX_BENCH_FLAGS adds flags, e.g. '-rounds 1 -cases herald/pg'.
OUTBOX_BENCH_FLAGS ?= -n 20000 -paced-n 1000 -rounds 3
bench-outbox:
	@set -eu; \
	if [ -z "$${HERALD_TEST_AMQP:-}" ] || [ -z "$${HERALD_TEST_NATS:-}" ] || [ -z "$${HERALD_TEST_POSTGRES:-}" ]; then \
		out=$$(scripts/brokers.sh up rabbitmq nats postgres) || { echo "bench-outbox: brokers could not be started (see above)" >&2; exit 1; }; \
		eval "$$(printf '%s\n' "$$out" | grep '^export ')"; \
	fi; \
	pid() { scripts/brokers.sh status 2>/dev/null | awk -v b=$$1 '$$1==b && $$2=="up" && $$3=="pid" {print $$4}'; }; \
	pg=$$(pid postgres); amqp=$$(pid rabbitmq); nats=$$(pid nats); \
	cd outbox/outboxbench; \
	echo "## through RabbitMQ"; GOWORK=off $(GO) run . $(OUTBOX_BENCH_FLAGS) -broker "$$HERALD_TEST_AMQP" -broker-pid "$${amqp:-0}" -pg-pid "$${pg:-0}"; \
	echo "## through NATS JetStream"; GOWORK=off $(GO) run . $(OUTBOX_BENCH_FLAGS) -broker "$$HERALD_TEST_NATS" -broker-pid "$${nats:-0}" -pg-pid "$${pg:-0}"

## stress: the whole suite, broker restarts included, 10 times over (~25 min).
stress:
	HERALD_TEST_COUNT=$${HERALD_TEST_COUNT:-10} scripts/test.sh ./...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseURL -fuzztime 60s .

brokers:
	scripts/brokers.sh up

brokers-down:
	scripts/brokers.sh down

brokers-status:
	scripts/brokers.sh status

## brokers-reset: stop the brokers and delete their data (CI starts this way).
brokers-reset:
	scripts/brokers.sh reset

quickstart:
	cd examples && $(GO) run ./quickstart

.PHONY: cluster-up cluster-down cluster-test

## cluster-up, cluster-down: three-node Kafka (KRaft), RabbitMQ and NATS
## clusters on 127.0.0.1 (scripts/cluster.sh; ports from
## HERALD_CLUSTER_PORT_BASE, default 15000; data kept in the state dir).
cluster-up:
	scripts/cluster.sh up

cluster-down:
	scripts/cluster.sh down

## cluster-test: cluster up, then the failover tests (adapters/clustertest):
## each broker's leader / connected node SIGKILLed under load and restarted,
## counting by message ID (a missing cluster fails). CLUSTER_BROKERS picks
## brokers, e.g. CLUSTER_BROKERS='nats amqp'.
CLUSTER_BROKERS ?=
cluster-test:
	@set -eu; \
	out=$$(scripts/cluster.sh up $(CLUSTER_BROKERS)) || { echo "cluster-test: the cluster could not be started (see above)" >&2; exit 1; }; \
	eval "$$(printf '%s\n' "$$out" | grep '^export ')"; \
	run=''; for b in $(CLUSTER_BROKERS); do case $$b in kafka) run="$$run|Kafka";; amqp|rabbitmq) run="$$run|RabbitMQ";; nats) run="$$run|NATS";; esac; done; \
	run=$${run#|}; \
	cd adapters/clustertest && HERALD_REQUIRE_CLUSTER=1 GOWORK=off $(GO) test -count=1 -v -run "^Test($${run:-Kafka|RabbitMQ|NATS})" .

## chaos: the fault suite (chaos/, figures in docs/reliability.md): every case
## on Kafka, RabbitMQ and NATS, counted by message ID; brokers of its own on
## 127.0.0.1:16000+ for broker kills and network cuts, the shared brokers
## (HERALD_TEST_*, when set) for consumer kills, and the 3-node clusters of
## scripts/cluster.sh for node kills: one broker kind at a time, its cluster
## up only for its run. ~10-15 min; prints one table; fails if an acked
## message was lost or a case could not run. CHAOS_BROKERS picks the kinds,
## CHAOS_FLAGS adds flags, e.g. CHAOS_FLAGS='-rate 1000'.
CHAOS_BROKERS ?= kafka amqp nats
CHAOS_FLAGS   ?=
.PHONY: chaos chaos-short
chaos:
	@dir=$$(mktemp -d); rc=0; \
	(cd chaos && GOWORK=off $(GO) build -o $$dir/chaos ./cmd/chaos) || exit 1; \
	for kind in $(CHAOS_BROKERS); do \
		cl="-cluster scripts/cluster.sh"; \
		if ! scripts/cluster.sh up $$kind >/dev/null; then \
			echo "chaos: the $$kind cluster did not come up: node-kill not run" >&2; cl=""; rc=1; \
		fi; \
		$$dir/chaos -brokers $$kind $$cl -json $(CHAOS_FLAGS) >$$dir/$$kind.json || rc=1; \
		scripts/cluster.sh down $$kind >/dev/null 2>&1; \
	done; \
	echo; echo "$$(date -u '+%Y-%m-%d %H:%M UTC'): make chaos CHAOS_BROKERS='$(CHAOS_BROKERS)' CHAOS_FLAGS='$(CHAOS_FLAGS)'"; echo; \
	$$dir/chaos -table $$dir/*.json || rc=1; \
	rm -rf $$dir; exit $$rc

## chaos-short: the CI subset (~2 min): connection resets, a consumer kill
## and a broker kill on NATS and RabbitMQ.
chaos-short:
	@dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	(cd chaos && GOWORK=off $(GO) build -o $$dir/chaos ./cmd/chaos) && $$dir/chaos -short $(CHAOS_FLAGS)

## outbox-faults: the outbox's fault suite (outbox/outboxtest/faults,
## figures in docs/reliability.md, "Outbox faults"): writers commit and
## roll back transactions while relay processes forward the rows to NATS
## JetStream, a consumer counts every message by ID; relays SIGKILLed
## mid-batch, the database restarted (pg_ctl -m immediate), the broker
## killed, two and three relays with kills, rollbacks; on PostgreSQL and
## SQLite. It starts a PostgreSQL (initdb, the binaries scripts/brokers.sh
## uses) and a nats-server of its own on free ports; the shared brokers
## are not used. ~2.5 min; prints one table; fails if a committed message
## was lost, a rolled-back one published, or a case could not run.
## OUTBOX_FAULTS_FLAGS adds flags, e.g. '-cases relay-kill -dbs sqlite'.
OUTBOX_FAULTS_FLAGS ?=
.PHONY: outbox-faults
outbox-faults:
	@dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	(cd outbox/outboxtest && GOWORK=off $(GO) build -o $$dir/outbox-faults ./faults/cmd/outbox-faults) && \
	$$dir/outbox-faults $(OUTBOX_FAULTS_FLAGS)

## soak: the invariant test of the publish and consume pipeline
## (internal/sim) over many more seeds than make test runs: SOAK_SEEDS
## seeds (default 200000, some 8 min on two idle cores) from SOAK_BASE
## (default: a random base, printed, so each soak covers new seeds),
## without -race; SOAK_TIME (e.g. 2h) runs as many as fit instead
## (SOAK_SEEDS is then only a cap). It stops at the fifth failing seed;
## each failure prints its seed and the command that reruns it alone:
## HERALD_SIM_SEED=N go test -run 'TestInvariants$$' ./internal/sim/
## (HERALD_SIM_SHRINK=N go test -run TestShrink ./internal/sim/ shrinks it).
SOAK_SEEDS ?= 200000
SOAK_BASE  ?=
SOAK_TIME  ?=
.PHONY: soak
soak:
	@base=$(SOAK_BASE); base=$${base:-$$(( $$(od -An -N4 -tu4 /dev/urandom) % 1000000000 + 1000000 ))}; \
	seeds=$(SOAK_SEEDS); if [ -n "$(SOAK_TIME)" ] && [ "$(origin SOAK_SEEDS)" = file ]; then seeds=1000000000; fi; \
	echo "soak: $$seeds seeds from $$base$(if $(SOAK_TIME), for at most $(SOAK_TIME)) (SOAK_BASE=$$base repeats them)"; \
	HERALD_SIM_SEEDS=$$seeds HERALD_SIM_SEED_BASE=$$base HERALD_SIM_TIME=$(SOAK_TIME) \
		$(GO) test -count=1 -timeout 24h -v -run '^TestInvariants$$' ./internal/sim/
