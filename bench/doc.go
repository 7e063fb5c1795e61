// Command bench measures Herald beside the native client and Watermill's
// stock adapter of each broker, in one process and one run, and writes
// docs/performance.md and its chart. It is its own module so that
// franz-go and the other clients it compares stay out of the library's
// go.mod; the engine (rounds, statistics, reports) is
// github.com/heraldkit/herald/internal/benchkit, shared with `herald bench`.
//
//	eval "$(scripts/brokers.sh env)"
//	cd bench && go run . -out ../docs/performance.md -chart ../docs/performance-ratios.svg
//
// Brokers come from HERALD_TEST_KAFKA, HERALD_TEST_AMQP and
// HERALD_TEST_NATS; a broker whose variable is empty is skipped (with
// -brokers naming it, that is an error). Every case run uses a fresh
// topic, queue or stream (and group) and deletes it afterwards.
//
// A part of the markdown file that follows the line
//
//	<!-- Hand-written from here on: make bench-compare keeps what follows. -->
//
// is kept when the report is written again (notes, tuning tables).
//
// Cases per broker (see -list):
//
//	native          the native client's fastest at-least-once path at
//	                Herald's default windows: 1024 messages in flight
//	                (publisher.DefaultAsyncWindow; franz-go Produce with
//	                promises, acks=all, idempotent; amqp091 deferred
//	                confirms; nats.go PublishAsync) and 256 unacknowledged
//	                when consuming (subscriber.DefaultWindow: franz-go
//	                PollRecords, AMQP prefetch, JetStream PullMaxMessages),
//	                acking each message after handling
//	native-defaults Kafka and NATS: the same at the client's own defaults
//	                (the ceiling beside the equal-window case)
//	native-sync16   the native client, 16 goroutines publishing synchronously
//	watermill-p16   Watermill's stock adapter, 16 publishing goroutines
//	herald-*        Herald through publisher.Open / subscriber.Open with
//	                defaults: 1 and 16 synchronous publishers, Publish of
//	                100 messages per call, subscriber concurrency 1 and 8
//	herald-b100-c1-x10
//	                herald-b100-c1 with ten times the messages, for the
//	                peak RSS growth ratio (-rss-growth, sizes up to 8 KiB)
//	herald-keyed-c1, herald-keyed-c8
//	                Kafka only: one partition, 16 keys, a 5 ms handler, 1
//	                and 8 workers, for the per-key concurrency speed-up
//	                (-keyed, -keyed-n messages)
//
// herald-async-c1 publishes from one goroutine with Publisher.PublishAsync
// and Flush (benchkit.AsyncPublish).
package main
