package adapters

import (
	"context"
	"log/slog"
	"time"

	"github.com/heraldkit/herald"
)

// Driver is what a backend registers for its scheme (Register). Every
// method is required; the publisher and subscriber packages discover
// nothing by type assertion and pass nothing to a driver through context
// values or message metadata.
//
// A driver does I/O: it connects, reconnects its transport, sends,
// receives and settles. Every policy (publish timeout, async window,
// consume window default, redelivery delay, holding a nacked message,
// reopening a broken stream, outage logging, what Attempt means) is the
// facade's, in one place each; the driver declares what it can do in
// Capabilities and the facade does the rest.
type Driver interface {
	// Validate checks cfg without any I/O: unknown options and bad values
	// are *herald.ConfigError naming the key.
	Validate(cfg herald.Config) error
	// Capabilities is what the backend does for cfg (cfg is valid).
	Capabilities(cfg herald.Config) Capabilities
	// OpenTopic opens the publish side. ctx bounds the opening only.
	OpenTopic(ctx context.Context, cfg herald.Config, env Env) (Topic, error)
	// OpenSubscription opens the consume side for cfg.Group ("" for a
	// private subscriber). ctx bounds the opening only.
	OpenSubscription(ctx context.Context, cfg herald.Config, env Env) (Subscription, error)
	// OpenRequester opens the request/reply side (see Requester): one
	// reply channel serving every request of the client. A backend
	// without request/reply (Capabilities.Request.Path is RequestNone)
	// returns a *herald.Error of KindInvalid naming the backend. ctx
	// bounds the opening only.
	OpenRequester(ctx context.Context, cfg herald.Config, env Env) (Requester, error)
}

// Env holds what a driver is given at open instead of finding it in a
// context.
type Env struct {
	// Logger is for what the driver reports on its own (a reconnect, a
	// re-created consumer), at debug or info: outages are logged once by
	// the facade from the errors and statuses the driver reports. Never
	// nil.
	Logger *slog.Logger
}

// Topic is the publish side of a backend. Its methods are safe for
// concurrent use.
type Topic interface {
	// Send hands m to the broker for topic and returns nil once the
	// driver took it; done is then called exactly once, from any
	// goroutine, with nil once the broker acknowledged m (stored it as
	// configured), or with a *herald.Error: KindOutcomeUnknown when m was
	// written but not answered (the broker may have it), KindUnreachable
	// when it was never written, KindClosed when Close came first,
	// KindTooLarge, KindDenied, KindInvalid. done must not block.
	//
	// Send returns an error, and done is not called, when m was not
	// taken. ctx carries the message's deadline (the facade's publish
	// timeout): the driver waits for its connection or its buffer no
	// longer than ctx, and fails m (done) when ctx ends before m was
	// written. Messages sent on one Topic in one order, to one topic with
	// the same key (herald.Key), reach the broker in that order.
	//
	// o says when and with which broker properties: the facade passes only
	// what Capabilities declares (a delivery time only when Delay.Max > 0,
	// within Max of now and never in the past; a property only where
	// Properties has it), and a driver refuses anything else with a
	// *herald.Error of KindInvalid naming the backend (it never sends m
	// at once instead of later, nor without a property it was given).
	//
	// m is not changed by the driver and must not be changed by the
	// caller until done was called.
	Send(ctx context.Context, topic string, m *herald.Message, o SendOptions, done func(error)) error
	// Close stops taking messages, waits within ctx for the answers of
	// those taken, fails the rest with KindClosed (each done is called)
	// and closes the connection. It is idempotent.
	Close(ctx context.Context) error
	// As sets target to an underlying client object (see the driver's
	// documentation) and reports whether it did.
	As(target any) bool
}

// Subscription is the consume side of a backend for one group. Its
// methods are safe for concurrent use.
type Subscription interface {
	// Prepare creates ahead of the first Open what the backend needs so
	// that the group keeps messages published from now on (a durable
	// queue, a stream and durable consumer); without a group, or where
	// nothing is needed, it does nothing.
	Prepare(ctx context.Context, topic string) error
	// Open starts consuming topic. It returns once the subscription
	// exists: a message published after Open returned is delivered. ctx
	// bounds the opening only; the stream lives until its Close.
	Open(ctx context.Context, topic string, o StreamOptions) (Stream, error)
	// Close closes the connection; streams still open are closed. It is
	// idempotent.
	Close(ctx context.Context) error
	// As sets target to an underlying client object and reports whether
	// it did.
	As(target any) bool
}

// StreamOptions are what the facade decides for one stream.
type StreamOptions struct {
	// Window is the most deliveries the stream keeps unsettled at once
	// (prefetch, MaxAckPending, Kafka's buffered records); always >= 1.
	Window int
	// Status receives the stream's health while it lives: an error when
	// it stopped receiving although the stream is not broken for good
	// (the driver is reconnecting), nil once it receives again. It may be
	// called repeatedly with the latest cause. Never nil; it must not be
	// called after Close returned.
	Status func(err error)
}

// Stream is one consumption of a topic. Receive is called from one
// goroutine at a time; Ack, Nack and Valid from any, concurrently with it.
type Stream interface {
	// Receive fills buf with up to len(buf) deliveries and returns how
	// many. It blocks until at least one is available, ctx ends (it
	// returns ctx.Err()), or the stream is closed (a *herald.Error of
	// KindClosed). Any other error means the stream broke for good: the
	// facade closes it and opens another. Receive blocks while Window
	// deliveries are unsettled.
	Receive(ctx context.Context, buf []Received) (int, error)
	// Ack settles a delivery as processed. It does not block on the
	// broker: acks go out asynchronously and coalesced where the broker
	// allows, never past an unsettled delivery where the broker's ack is
	// cumulative (Kafka offsets).
	Ack(t Token)
	// Nack settles a delivery for redelivery by the broker after delay.
	// Called only when Capabilities.Redelivery is RedeliverBroker, and
	// with delay > 0 only when Capabilities.NackDelay; otherwise the
	// facade holds the message for its delay itself.
	Nack(t Token, delay time.Duration)
	// Valid reports whether a delivery may still be handled: false once
	// the driver can no longer settle it (its partition was revoked, its
	// channel is gone), when the broker hands it, or already handed it,
	// to another consumer. The facade skips deliveries that are not valid.
	Valid(t Token) bool
	// Close stops receiving. Settlements made are flushed to the broker
	// within ctx; deliveries not settled are left for redelivery
	// (returned to the broker at once where it can be done). Ack and Nack
	// after Close do nothing. Close is idempotent.
	Close(ctx context.Context) error
}

// Received is one delivery handed out by a Stream.
type Received struct {
	// Msg is the message as the handler sees it; the facade does not use
	// its Ack and Nack.
	Msg *herald.Message
	// Key is the message's ordering key (herald.Key: the Kafka record
	// key, the herald-key header elsewhere), "" for none.
	Key string
	// Attempt is the broker's count of deliveries of the message (1 for
	// the first) when Capabilities.CountsAttempts, else 0.
	Attempt int
	// Time is when the message was published or stored, as the broker
	// carries it (the AMQP timestamp property, the Kafka record
	// timestamp, the JetStream stored time); zero when it carries none
	// (and always where Capabilities.Timestamps is false).
	// The facade hands it to the handler as herald.Delivery.Time.
	Time time.Time
	// Token is the driver's handle for settling it.
	Token Token
}

// Token is a driver's handle on one delivery; only the driver that made
// it reads its fields.
type Token struct {
	Seq  uint64 // e.g. an AMQP delivery tag, a Kafka offset, a sequence
	Part int32  // e.g. a Kafka partition, a channel generation
	Ref  any    // e.g. the client's message
}

// Redelivery says who redelivers a nacked message.
type Redelivery uint8

const (
	// RedeliverLocal: the broker cannot redeliver one message (Kafka
	// commits offsets; the memory bus keeps it for the subscriber). The
	// facade handles a failed message again itself after its delay,
	// before later messages of its key; it is never passed to Nack, and
	// stays unsettled (uncommitted) until it succeeds.
	RedeliverLocal Redelivery = iota
	// RedeliverBroker: Nack returns the message to the broker, which
	// delivers it again, possibly to another subscriber of the group and
	// possibly after later messages of its key.
	RedeliverBroker
)

// OrderScope says which messages keep their publish order on delivery.
type OrderScope uint8

const (
	// OrderNone: no order is kept.
	OrderNone OrderScope = iota
	// OrderKey: messages with the same key are delivered in publish order
	// to one subscriber of a group (Kafka: the key's partition; the
	// memory bus); the facade runs them one at a time in that order.
	OrderKey
	// OrderQueue: messages are delivered in publish order from one queue
	// or stream shared by the group; with several subscribers in a group
	// or a redelivery, messages of one key may be handled out of order.
	OrderQueue
)

// Capabilities is what a backend declares it does. The facade reads it
// to decide what it must do itself, the conformance suite to decide what
// to test, and the docs' capability table says the same.
type Capabilities struct {
	// Durable: messages survive with no subscriber running (a group's
	// queue, stream or log keeps them) and a broker restart.
	Durable bool
	// Groups: subscribers of one group share a topic's messages.
	Groups bool
	// Redelivery is who redelivers a nacked message.
	Redelivery Redelivery
	// NackDelay: with RedeliverBroker, Nack's delay is honoured by the
	// broker (JetStream NakWithDelay). Otherwise the facade holds the
	// message for its delay before Nack.
	NackDelay bool
	// CountsAttempts: Received.Attempt is the broker's count of
	// deliveries, kept across subscribers and restarts.
	CountsAttempts bool
	// Order is which messages keep their order on delivery.
	Order OrderScope
	// MaxMessageSize is the largest payload plus headers the broker takes
	// with cfg, in bytes; 0 when unknown.
	MaxMessageSize int
	// DefaultWindow is the stream window the backend is tuned for, used
	// when the subscriber sets none.
	DefaultWindow int
	// MaxWindow is the most deliveries a stream can hand out unsettled at
	// once (a Watermill subscriber bridged in holds one), 0 for no limit:
	// the facade never asks for a larger window.
	MaxWindow int
	// SingleProcess: the backend lives in one process (mem, embedded).
	SingleProcess bool
	// Delay is what Topic.Send does with SendOptions.At; its zero value
	// is no delayed delivery (the facade refuses a delay).
	Delay DelayCapabilities
	// Properties are the herald.Properties fields Topic.Send honours; the
	// facade refuses the others.
	Properties PropertyCaps
	// Request is how the backend carries request/reply (OpenRequester).
	Request RequestCaps
	// Timestamps: Received.Time is set for the messages Herald published
	// (the broker's record, property or stored time).
	Timestamps bool
}

// SendOptions are what the facade decided for one Topic.Send beyond the
// message itself.
type SendOptions struct {
	// At is the delivery time: the broker delivers m to topic's
	// subscribers at At, not before, and no later than Delay.Precision
	// after (the delivered message is m as an immediate Send would
	// deliver it); done is called with nil once the broker stored the
	// delayed message (durably where Delay.Durable). Zero: at once.
	At time.Time
	// Properties are m's broker properties (only those PropertyCaps
	// declares are ever set).
	herald.Properties
}

// PropertyCaps says which herald.Properties fields a backend carries as
// broker properties (a foreign client reads them as such).
type PropertyCaps struct {
	// Time: Properties.Time is the broker's message timestamp.
	Time bool
	// TTL: Properties.TTL is the broker's per-message expiry.
	TTL bool
	// Type: Properties.Type is the broker's message type property.
	Type bool
}

// DelayCapabilities is what a backend does for delayed delivery
// (SendOptions.At).
type DelayCapabilities struct {
	// Max is the longest delay, from now to the delivery time, the
	// backend takes; 0: no delayed delivery.
	Max time.Duration
	// Precision bounds how late after its delivery time a delayed message
	// is delivered, its rounding and the broker's timer together (the
	// time to hand it to a handler aside); it is never delivered before.
	Precision time.Duration
	// Durable: a delayed message survives a broker restart once Send's
	// done reported nil.
	Durable bool
	// Ordered: messages sent on one Topic in one order with the same
	// delivery time, to one topic and key, are delivered in that order.
	Ordered bool
}
