#!/usr/bin/env bash
# scripts/test.sh: what `make test` runs. Brings brokers up when the
# HERALD_TEST_* variables are not already set, then runs every test.
# HERALD_REQUIRE_BROKERS=1 (CI) turns a broker that cannot start into a
# failure; otherwise broker tests skip with a hint.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${HERALD_TEST_KAFKA:-}" || -z "${HERALD_TEST_AMQP:-}" || -z "${HERALD_TEST_NATS:-}" ]]; then
  if [[ "${HERALD_SKIP_BROKERS:-0}" == 1 ]]; then
    echo "test.sh: HERALD_SKIP_BROKERS=1: broker tests will skip" >&2
  elif out=$(scripts/brokers.sh up); then
    eval "$(grep '^export ' <<<"$out")"
  elif [[ "${HERALD_REQUIRE_BROKERS:-0}" == 1 ]]; then
    echo "test.sh: brokers could not be started (see above) and HERALD_REQUIRE_BROKERS=1" >&2
    exit 1
  else
    echo "test.sh: brokers could not be started (see above); broker tests will skip" >&2
  fi
fi

go vet ./...
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [[ -n "$unformatted" ]]; then echo "gofmt needed: $unformatted" >&2; exit 1; fi
# The cluster failover tests (adapters/clustertest) run last, in a phase of
# their own with the clusters up (see the end); the rest runs now.
cluster_pkg=github.com/heraldkit/herald/adapters/clustertest
mapfile -t pkgs < <(go list "${@:-./...}")
mapfile -t main_pkgs < <(printf '%s\n' "${pkgs[@]}" | grep -vx "$cluster_pkg")
# -p 2: the machine has two cores and the broker suites are I/O bound.
go test -race -count="${HERALD_TEST_COUNT:-1}" -timeout "$((20 * ${HERALD_TEST_COUNT:-1}))m" -p 2 "${main_pkgs[@]}"

# Broker restarts cut off every client of that broker, so the tests that
# restart one run last, one package at a time, for whichever of the given
# packages have them (make test PKGS=./adapters/kafka runs Kafka's).
#
# restart_pkgs PKG...: the packages among PKG... (go list patterns) whose
# tests restart a broker: they gate a test on adaptertest.RestartEnabled or
# give the conformance suite a Restart function.
restart_pkgs() {
  go list -f '{{.ImportPath}} {{.Dir}}' "$@" | while read -r pkg dir; do
    if grep -qsE 'RestartEnabled\(\)|^[[:space:]]*Restart:' "$dir"/*_test.go; then
      echo "$pkg"
    fi
  done
}
mapfile -t restart < <(restart_pkgs "${@:-./...}")
if ((${#restart[@]})); then
  echo "test.sh: broker-restart phase: ${restart[*]}" >&2
  HERALD_TEST_RESTART=1 go test -race -count="${HERALD_TEST_COUNT:-1}" -timeout "$((20 * ${HERALD_TEST_COUNT:-1}))m" -p 1 -run 'Conformance/BrokerRestart' "${restart[@]}"
  HERALD_TEST_RESTART=1 go test -race -count="${HERALD_TEST_COUNT:-1}" -timeout "$((20 * ${HERALD_TEST_COUNT:-1}))m" -p 1 -run 'Restart' "${restart[@]}"
fi

# Cluster phase: three-node Kafka, RabbitMQ and NATS clusters
# (scripts/cluster.sh, about 25 s to start, 1.7 GB), each broker's leader
# SIGKILLed under load, then the clusters stopped again. Under
# HERALD_REQUIRE_BROKERS=1 (CI) a cluster that cannot start fails the run;
# HERALD_SKIP_CLUSTER=1 leaves the phase out (outside CI).
if printf '%s\n' "${pkgs[@]}" | grep -qx "$cluster_pkg"; then
  if [[ "${HERALD_SKIP_CLUSTER:-0}" == 1 && "${HERALD_REQUIRE_BROKERS:-0}" != 1 ]]; then
    echo "test.sh: HERALD_SKIP_CLUSTER=1: cluster tests not run" >&2
  elif out=$(scripts/cluster.sh up); then
    trap 'scripts/cluster.sh down >/dev/null 2>&1 || true' EXIT
    echo "test.sh: cluster phase: $cluster_pkg" >&2
    (eval "$(grep '^export ' <<<"$out")"; HERALD_REQUIRE_CLUSTER=1 go test -count=1 -timeout 15m -p 1 "$cluster_pkg")
  elif [[ "${HERALD_REQUIRE_BROKERS:-0}" == 1 ]]; then
    echo "test.sh: the clusters could not be started (see above) and HERALD_REQUIRE_BROKERS=1" >&2
    exit 1
  else
    echo "test.sh: the clusters could not be started (see above); cluster tests not run" >&2
  fi
fi
