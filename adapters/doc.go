// Package adapters is Herald's driver layer: each backend registers an
// Adapter for its URL scheme in an init function, and Open returns the
// Watermill publisher and subscriber for a target. Users normally call the
// publisher and subscriber packages instead; this package is the stable
// interface for writing a new backend and for dropping down to Watermill.
//
// # Registering an adapter
//
//	func init() { adapters.Register("mybroker", myAdapter{}) }
//
// Import the adapter for its side effect (or import adapters/all for
// every built-in one):
//
//	import _ "github.com/heraldkit/herald/adapters/kafka"
//
// # The contract
//
// A Watermill subscriber returned by an adapter must deliver each message to
// one of the Subscribe calls made on it for the same topic (they compete),
// with or without a group. With a group, subscribers in the same group, in
// any process, share the messages, and each group gets every message.
// Without a group, the subscriber is a private consumer that gets every
// message published after its Subscribe returned. A message is settled only
// by Ack (processed) or Nack (redeliver). Package adaptertest checks all of
// this against a real broker.
package adapters
