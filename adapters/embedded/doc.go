// Package embedded is Herald's zero-setup durable backend: a NATS server
// with JetStream running inside the process, storing to a data directory,
// reached without any network port. It registers the "embedded" scheme,
// which is also Herald's default target:
//
//	import _ "github.com/heraldkit/herald/adapters/embedded"
//
//	embedded:///var/lib/app/herald     an absolute directory
//	embedded://?dir=data/herald        a directory relative to the working directory
//	embedded://                        the default directory (DefaultDir)
//
// The default directory is $XDG_DATA_HOME/herald/embedded, else
// ~/.local/share/herald/embedded on Linux and other Unix systems,
// ~/Library/Application Support/herald/embedded on macOS and
// %LocalAppData%\herald\embedded on Windows. It is created if needed.
//
// # One server per directory
//
// Every publisher and subscriber opened on one directory in a process
// shares one server: a publisher and a subscriber opened separately talk
// to each other. The server starts with the first Open and shuts down when
// the last publisher or subscriber on it closes. While it runs, the process
// holds a lock on the directory (herald.lock, flock on Unix, LockFileEx on
// Windows): opening the directory from a second process fails with
// ErrDirInUse, since two servers on one store would corrupt it. nats-server
// itself does not guard against that. Options of the server itself (log,
// sync) take effect when it starts.
//
// # Durability
//
// Messages are kept in file streams (7 days by default) and groups are
// durable consumers, exactly as with the nats adapter in JetStream mode,
// whose code this package uses: messages published before a restart of the
// process, or before a group's first subscriber, are consumed after it. A
// new group starts with every retained message (start=newest changes that).
// When the server starts it returns messages that were delivered but not
// acked when it last stopped to their consumers at once (a consumer reset
// to its ack floor), instead of after ack_wait; messages acked out of order
// above that floor may be delivered again (at-least-once). JetStream writes
// each message before acknowledging it, so a process crash loses nothing;
// it fsyncs every 2 minutes by default, so a machine crash can lose recent
// messages unless sync=always.
//
// # Options
//
//	dir      data directory (instead of a URL path)         DefaultDir
//	log      server logs on stderr                          false
//	sync     fsync policy: always, default (2m), a duration default
//
// and the JetStream options of package adapters/nats (stream, subjects,
// provision, storage, max_age, duplicates, ack_wait, max_deliver,
// backoff, start, max_ack_pending, inactive_threshold), with replicas
// fixed at 1; deliver (all | new), the older name of start (oldest |
// newest), is accepted until the next release. prefetch, the consume
// window, is the subscriber's. Connection options (hosts, credentials,
// client_id, connect_timeout, TLS) do not apply. Every option is listed,
// for every backend, in docs/configuration.md. The server accepts
// messages up to MaxPayload (8 MiB, headers included).
//
// # Behaviour shared with the nats driver
//
// Publishing, delayed delivery (JetStream message schedules: durable,
// 1.5 s precision, at most the stream's max_age; enabling them on a
// stream is one-way), consuming, de-duplication (Nats-Msg-Id holds the message
// ID and the subject, so a dead-letter copy on a stream that also
// captures {topic}.dlq is stored), stream and consumer names (an
// injective encoding of topics and groups), nack delays (NakWithDelay),
// in-progress acks for the messages a subscriber holds, status reports
// and the handling of contexts are those of package adapters/nats in
// JetStream mode, with the same Capabilities (MaxMessageSize is
// MaxPayload). Opening starts the server if needed and gives up when its
// context ends. Errors are *herald.Error values with Backend "embedded";
// every operation after Close matches herald.ErrClosed.
//
// # Escape hatch
//
// The publisher's and subscriber's As fill a pointer to **server.Server,
// **nats.Conn or *jetstream.JetStream.
package embedded
