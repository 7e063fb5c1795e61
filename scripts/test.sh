#!/usr/bin/env bash
# scripts/test.sh: what `make test`, `make lint` and `make test-short` run,
# over EVERY Go module of the repository (each directory with a go.mod: the
# library at the root, examples/, bench/, chaos/, the test modules, and any
# module added later; see "modules" below).
#
#   scripts/test.sh [PATTERN...]         lint, then the tests (make test)
#   scripts/test.sh -lint                lint only (make lint)
#   scripts/test.sh -short [PATTERN...]  unit tests only, no brokers (make test-short)
#   scripts/test.sh -list [PATTERN...]   the modules and patterns that would run
#
# PATTERNs are package patterns relative to the repository root, as before
# the split into modules: ./adapters/kafka, ./examples/..., ./... (the
# default: every module). A pattern ending in /... takes in the modules
# below it too. Each module runs on its own go.mod (GOWORK=off): what a
# user of that module gets, whatever go.work says.
#
# The tests bring brokers (and PostgreSQL, for wmbridge/wmtest) up when the
# HERALD_TEST_* variables are not already set. HERALD_REQUIRE_BROKERS=1 (CI) turns a broker that cannot
# start into a failure; otherwise broker tests skip with a hint.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOWORK=off

mode=test
case "${1:-}" in
-lint) mode=lint; shift ;;
-short) mode=short; shift ;;
-list) mode=list; shift ;;
esac

# modules: the directory of every go.mod, "." first, as ./path. Like the
# go command, it skips testdata, vendor and directories whose names begin
# with "." or "_".
modules() {
  find . \( -name testdata -o -name vendor -o -name '.?*' -o -name '_*' \) -prune -o -name go.mod -print |
    sed -e 's|/go.mod$||' | LC_ALL=C sort
}
mapfile -t all_modules < <(modules)

# module_of DIR: the module directory DIR is in.
module_of() {
  local d=$1
  while [[ ! -f $d/go.mod ]]; do d=$(dirname "$d"); done
  echo "$d"
}

# Resolve the PATTERNs into the packages to test per module: pats[MODULE]
# holds that module's patterns, relative to the module.
declare -A pats=()
targets=()
add() { # add MODULE PATTERN
  [[ -n ${pats[$1]+x} ]] || targets+=("$1")
  pats[$1]+=" $2"
}
for p in "${@:-./...}"; do
  p=./${p#./}
  dir=${p%/...}
  dir=${dir%/}
  [[ $dir == . || $dir == "" ]] && dir=.
  if [[ ! -d $dir ]]; then echo "test.sh: $p: no such directory" >&2; exit 2; fi
  mod=$(module_of "$dir")
  rel=.${dir#"$mod"}
  if [[ $p == */... ]]; then
    add "$mod" "$rel/..."
    for m in "${all_modules[@]}"; do
      [[ $m != "$mod" && ( $dir == . || $m == "$dir"/* || $m == "$dir" ) ]] && add "$m" ./...
    done
  else
    add "$mod" "$rel"
  fi
done

if [[ $mode == list ]]; then
  for m in "${targets[@]}"; do echo "$m:${pats[$m]}"; done
  exit 0
fi

tmp=$(mktemp -d)
cleanup=("rm -rf '$tmp'")
trap 'for c in "${cleanup[@]}"; do eval "$c"; done' EXIT

failed=()
# run_in MODULE CMD...: run CMD in MODULE, recording a failure instead of
# stopping, so that every module is tried.
run_in() {
  local mod=$1
  shift
  echo "test.sh: $mod: $*" >&2
  if ! (cd "$mod" && "$@"); then failed+=("$mod: $*"); fi
}
report() {
  if ((${#failed[@]})); then
    printf 'test.sh: FAILED:\n' >&2
    printf '  %s\n' "${failed[@]}" >&2
    exit 1
  fi
}

lint() {
  # go.work must list every module, or `go` inside an unlisted one fails
  # ("current directory is contained in a module that is not one of the
  # workspace modules") and `go run ./examples/...` from the root breaks.
  local listed
  listed=$(GOWORK= go work edit -json | sed -n 's/.*"DiskPath": "\(.*\)".*/\1/p' |
    sed -e 's|^\./||' -e 's|^|./|' -e 's|^\./\.$|.|' | LC_ALL=C sort)
  if [[ $listed != "$(printf '%s\n' "${all_modules[@]}")" ]]; then
    echo "test.sh: go.work does not list exactly the modules of the repository; run: go work use -r ." >&2
    diff <(echo "$listed") <(printf '%s\n' "${all_modules[@]}") >&2 || true
    failed+=("go.work")
  fi
  GOBIN=$tmp go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
  for m in "${all_modules[@]}"; do
    run_in "$m" go mod tidy -diff
    run_in "$m" go vet ./...
    run_in "$m" "$tmp/staticcheck" ./...
  done
  local unformatted
  unformatted=$(git ls-files --cached --others --exclude-standard '*.go' |
    while read -r f; do if [[ -f $f ]]; then echo "$f"; fi; done | xargs -r gofmt -l)
  if [[ -n $unformatted ]]; then
    echo "test.sh: gofmt needed: $unformatted" >&2
    failed+=("gofmt")
  fi
}

if [[ $mode == lint ]]; then
  lint
  report
  exit 0
fi

if [[ $mode == short ]]; then
  # -short makes every broker test skip (adaptertest.BrokerURL); the
  # HERALD_TEST_* variables are unset for good measure.
  unset HERALD_TEST_KAFKA HERALD_TEST_AMQP HERALD_TEST_NATS HERALD_TEST_POSTGRES HERALD_TEST_RESTART HERALD_REQUIRE_BROKERS
  for m in "${targets[@]}"; do
    # shellcheck disable=SC2086 # the patterns are words
    run_in "$m" go test -short -count=1 ${pats[$m]}
  done
  report
  exit 0
fi

if [[ -z "${HERALD_TEST_KAFKA:-}" || -z "${HERALD_TEST_AMQP:-}" || -z "${HERALD_TEST_NATS:-}" || -z "${HERALD_TEST_POSTGRES:-}" ]]; then
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

lint
report # a module that does not vet is not worth testing

count=${HERALD_TEST_COUNT:-1}
timeout=$((20 * count))m
# The cluster failover tests (the adapters/clustertest module) run last, in
# a phase of their own with the clusters up (see the end); the rest runs
# now, one module after the other. -p 2: the machine has two cores and the
# broker suites are I/O bound.
cluster_mod=./adapters/clustertest
for m in "${targets[@]}"; do
  [[ $m == "$cluster_mod" ]] && continue
  # shellcheck disable=SC2086
  run_in "$m" go test -race -count="$count" -timeout "$timeout" -p 2 ${pats[$m]}
done

# Tests whose part skips under the race detector (raceEnabled: too slow
# with it, so -race above never ran that part) run that part again
# without -race, for the given packages that have them. Each entry:
# MODULE PACKAGE -run-REGEXP.
norace_tests=(
  # SQLite's timed drain of 9000 rows: ~4 s, some 45 s under -race.
  "./outbox/outboxtest github.com/heraldkit/herald/outbox/outboxtest ^TestKeyedBacklogDrainsLinearly$/^sqlite$"
)
for entry in "${norace_tests[@]}"; do
  read -r mod pkg run <<<"$entry"
  [[ -n ${pats[$mod]+x} ]] || continue
  # shellcheck disable=SC2086
  if (cd "$mod" && go list ${pats[$mod]} | grep -qx "$pkg"); then
    echo "test.sh: without -race: $pkg $run" >&2
    run_in "$mod" go test -count="$count" -timeout "$timeout" -v -run "$run" "$pkg"
  fi
done

# Broker restarts cut off every client of that broker, so the tests that
# restart one run last, one package at a time, for whichever of the given
# packages have them (make test PKGS=./adapters/kafka runs Kafka's).
#
# restart_pkgs PATTERN...: in the current module, the packages among
# PATTERN... whose tests restart a broker: they gate a test on
# adaptertest.RestartEnabled (or a package's own restartEnabled) or give
# the conformance suite a Restart function (adapters/rabbitmq does both on
# one line and was never picked up: its restart tests did not run in CI).
restart_pkgs() {
  go list -f '{{.ImportPath}} {{.Dir}}' "$@" | while read -r pkg dir; do
    if grep -qsE '[Rr]estartEnabled\(\)|(^|[{,[:space:]])Restart:' "$dir"/*_test.go; then
      echo "$pkg"
    fi
  done
}
for m in "${targets[@]}"; do
  [[ $m == "$cluster_mod" ]] && continue
  # shellcheck disable=SC2086
  mapfile -t restart < <(cd "$m" && restart_pkgs ${pats[$m]})
  if ((${#restart[@]})); then
    echo "test.sh: broker-restart phase: ${restart[*]}" >&2
    export HERALD_TEST_RESTART=1
    run_in "$m" go test -race -count="$count" -timeout "$timeout" -p 1 -run 'Conformance/.*/(BrokerRestart|DelayedSurvives)' "${restart[@]}"
    run_in "$m" go test -race -count="$count" -timeout "$timeout" -p 1 -run 'Restart' "${restart[@]}"
    unset HERALD_TEST_RESTART
  fi
done

# Cluster phase: three-node Kafka, RabbitMQ and NATS clusters
# (scripts/cluster.sh, about 25 s to start, 1.7 GB), each broker's leader
# SIGKILLed under load, then the clusters stopped again. Under
# HERALD_REQUIRE_BROKERS=1 (CI) a cluster that cannot start fails the run;
# HERALD_SKIP_CLUSTER=1 leaves the phase out (outside CI).
if [[ -n ${pats[$cluster_mod]+x} ]]; then
  if [[ "${HERALD_SKIP_CLUSTER:-0}" == 1 && "${HERALD_REQUIRE_BROKERS:-0}" != 1 ]]; then
    echo "test.sh: HERALD_SKIP_CLUSTER=1: cluster tests not run" >&2
  elif out=$(scripts/cluster.sh up); then
    cleanup+=("scripts/cluster.sh down >/dev/null 2>&1 || true")
    echo "test.sh: cluster phase: $cluster_mod" >&2
    # shellcheck disable=SC2086
    if ! (eval "$(grep '^export ' <<<"$out")" && cd "$cluster_mod" &&
      HERALD_REQUIRE_CLUSTER=1 go test -count=1 -timeout 15m -p 1 ${pats[$cluster_mod]}); then
      failed+=("$cluster_mod: cluster phase")
    fi
  elif [[ "${HERALD_REQUIRE_BROKERS:-0}" == 1 ]]; then
    echo "test.sh: the clusters could not be started (see above) and HERALD_REQUIRE_BROKERS=1" >&2
    exit 1
  else
    echo "test.sh: the clusters could not be started (see above); cluster tests not run" >&2
  fi
fi
report
