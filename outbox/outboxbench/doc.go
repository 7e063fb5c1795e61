// Command outboxbench measures the outbox relay beside Watermill's
// forwarder and beside the database's own insert rate (issue 16, item 6).
//
// Writers commit transactions flat out (-writers goroutines, -per-tx
// messages of -size bytes each) until -n messages are committed; a relay
// forwards them to the broker (-broker: RabbitMQ or NATS JetStream), and
// a Herald subscriber in the same process handles them. Per case it reports the throughput (n over the
// time from the first write to the last message handled), the writers'
// own rate, the commit-to-handler latency p50/p99 (from Commit's return
// to the handler), and the most messages committed and not yet handled
// at once (sampled every 5 ms): bounded while the relay keeps up.
//
// Cases:
//
//	insert/pg, insert/sqlite  the same writers into a plain table, no relay:
//	                          the database's own rate
//	herald/pg                 outbox.Store.Publish in the writers' tx; one
//	                          Relay (defaults, pgnotify Notifier) to the broker
//	herald/sqlite             the same on SQLite (WAL, synchronous=NORMAL),
//	                          polling (no NOTIFY in SQLite)
//	watermill/pg              watermill-sql v4 Publisher on the writers' tx
//	                          under forwarder.Publisher; forwarder.Forwarder
//	                          (watermill-sql Subscriber, defaults) to the
//	                          broker through wmbridge (Herald's driver)
//	drain-*/...               the writers first, then forwarding alone (its
//	                          throughput from its start): what the relay or
//	                          the forwarder can do without writers beside it
//	paced-*/...               one writer at -paced-rate messages/s: latency
//	                          without queueing (LISTEN/NOTIFY vs polling)
//
// Cases run interleaved (A B C A B C ...) for -rounds rounds; figures are
// medians over rounds. The throughput of a drain case counts from the
// start of forwarding; the others from the first write.
//
//	eval "$(scripts/brokers.sh env)"
//	cd outbox/outboxbench && go run . -n 20000 -rounds 3
package main
