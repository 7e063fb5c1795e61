# Herald: see README.md. `make test` is the one command CI runs.
GO        ?= go
PKGS      ?= ./...
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHTIME ?= 3x
COUNT     ?= 1

.PHONY: test test-short lint fmt bench fuzz stress brokers brokers-down brokers-status quickstart

## test: lint-free build, then every test; brings up Kafka, RabbitMQ and NATS
## via scripts/brokers.sh unless HERALD_TEST_* are already set.
test:
	scripts/test.sh $(PKGS)

## test-short: unit tests only, no brokers: -short makes every broker test
## skip (adaptertest.BrokerURL), and the HERALD_TEST_* variables are unset
## for good measure.
test-short:
	env -u HERALD_TEST_KAFKA -u HERALD_TEST_AMQP -u HERALD_TEST_NATS -u HERALD_TEST_RESTART -u HERALD_REQUIRE_BROKERS \
		$(GO) test -short -count=1 $(PKGS)

lint:
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

fmt:
	gofmt -w $$(git ls-files '*.go')

## bench: adapter benchmarks beside raw Watermill, same run (needs brokers).
bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -count $(COUNT) ./adapters/... ./middleware/...

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

quickstart:
	$(GO) run ./examples/quickstart
