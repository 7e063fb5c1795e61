// Package sim is a simulated Herald backend for tests: an
// adapters.Driver whose broker lives in memory, declares the
// capabilities it is given (redelivery local or by the broker, native
// nack delay, broker-counted attempts, key or queue order) and injects
// faults drawn from a seed: delayed answers reordered across keys, sends
// that fail as unreachable or with an unknown outcome, publish outages
// that outlast the caller's deadline, delayed and lost acks, broken
// streams, revoked deliveries, broker-side redeliveries (duplicates) and
// status reports.
//
// It is built for the randomized invariant test of the publish and
// consume pipeline (internal/sim/invariant_test.go), which runs it inside
// a testing/synctest bubble: every delay is a timer, so fake time makes
// them free. A Broker must be created inside the bubble that uses it.
//
// # Use
//
//	d := sim.NewDriver()
//	adapters.Register(sim.Scheme, d) // once per process
//	b := sim.New(seed, sim.Draw(seed))
//	cfg := d.Add(b)                  // sim://<name>
//	defer d.Remove(b)
//
// The broker keeps a Trace of what happened (sends, stores, answers,
// deliveries, acks, nacks, faults) to which the test adds its own events,
// and records as violations the uses of the driver contract
// (adapters/driver.go) that the contract forbids: Receive called
// concurrently, Nack under RedeliverLocal or with a delay the broker does
// not honour, a delivery settled twice, a token given to the wrong
// stream, a stream window below 1.
//
// # Model
//
// A topic is a log of stored messages. A group (cfg.Group; a private
// subscription is a group of its own) gets every message stored after it
// was created (Prepare or the first Open) and keeps each one until a
// delivery of it is acked. A stream takes deliveries up to its window;
// an Ack frees the slot when it reaches the broker (after the ack delay);
// a revoke, a redelivery, a break or Close returns the stream's unsettled
// deliveries to the group (their tokens turn invalid) for delivery again.
// With Capabilities.Order OrderKey a key belongs to one stream at a time
// and its messages are delivered in log order; revoking a key moves it.
package sim
