package adapters

import (
	"context"

	"github.com/heraldkit/herald"
)

// The headers a request carries to its responder. A driver sets them on
// the message its subscriptions hand out for a request (from the native
// property where the broker has one: AMQP reply_to and correlation_id, a
// NATS header, Kafka record headers), so the responder, an ordinary
// handler, reads them from the metadata. They are documented, visible
// headers, not a side channel.
const (
	// ReplyToHeader is the reply address of a request: a NATS inbox
	// subject, the AMQP reply_to the broker gave (amq.rabbitmq.reply-to.…),
	// a Kafka reply topic, a memory inbox.
	ReplyToHeader = "herald-reply-to"
	// CorrelationHeader matches a reply to its request on the reply
	// channel (AMQP correlation_id, a Kafka header; on NATS the token is
	// the last element of the reply subject and the header repeats it).
	CorrelationHeader = "herald-correlation-id"
)

// Requester is a client's request/reply side: it opens one reply channel
// (a multiplexed NATS inbox subscription, an AMQP Direct Reply-to
// consumer, a Kafka reply topic, a memory inbox) and matches every reply
// to its request by correlation, so concurrent requests share it: never a
// subscription per request. Its methods are safe for concurrent use.
type Requester interface {
	// Request sends m to topic with this requester's reply address and a
	// correlation token of its own (it sets ReplyToHeader and
	// CorrelationHeader on a copy; m is not changed) and returns the
	// reply's message. It returns ctx.Err() (unwrapped) when ctx ends
	// first, a *herald.Error of KindNoResponder when the broker tells
	// that nobody subscribes to topic (Capabilities.Request.FailFast),
	// KindClosed after Close, or the error of the send.
	Request(ctx context.Context, topic string, m *herald.Message) (*herald.Message, error)
	// Reply sends m to the reply address of a request (to is what the
	// request carried in ReplyToHeader and CorrelationHeader). A reply to
	// a requester gone is dropped by the broker or the driver without an
	// error where the broker does not tell.
	Reply(ctx context.Context, to ReplyAddress, m *herald.Message) error
	// Close fails the requests waiting with KindClosed and releases the
	// reply channel (a Kafka reply topic is deleted). It is idempotent.
	Close(ctx context.Context) error
	// As sets target to an underlying client object and reports whether
	// it did.
	As(target any) bool
}

// ReplyAddress is where a reply goes: a request's ReplyToHeader and
// CorrelationHeader.
type ReplyAddress struct {
	To          string
	Correlation string
}

// ReplyAddressOf reads m's reply address; ok is false when m is not a
// request (it has no ReplyToHeader).
func ReplyAddressOf(m *herald.Message) (a ReplyAddress, ok bool) {
	a = ReplyAddress{To: m.Metadata.Get(ReplyToHeader), Correlation: m.Metadata.Get(CorrelationHeader)}
	return a, a.To != ""
}

// RequestPath is the native mechanism a backend uses for request/reply.
type RequestPath uint8

const (
	// RequestNone: the backend has no request/reply; OpenRequester is
	// refused with an error naming the backend.
	RequestNone RequestPath = iota
	// RequestInProcess: the memory bus delivers replies to an inbox in
	// the process.
	RequestInProcess
	// RequestInbox: NATS, one multiplexed inbox subscription
	// (_INBOX.<id>.*) per requester, correlation by the subject's last
	// token.
	RequestInbox
	// RequestDirectReplyTo: RabbitMQ Direct Reply-to
	// (amq.rabbitmq.reply-to), consumed without acks on the channel that
	// publishes, correlation by correlation_id.
	RequestDirectReplyTo
	// RequestReplyTopic: Kafka, one reply topic per requester (created at
	// open, deleted at Close), correlation by a header.
	RequestReplyTopic
)

// String names p.
func (p RequestPath) String() string {
	switch p {
	case RequestInProcess:
		return "in-process inbox"
	case RequestInbox:
		return "NATS multiplexed inbox"
	case RequestDirectReplyTo:
		return "RabbitMQ Direct Reply-to"
	case RequestReplyTopic:
		return "Kafka reply topic per client"
	}
	return "none"
}

// RequestCaps is what a backend declares about request/reply.
type RequestCaps struct {
	// Path is the native mechanism; RequestNone refuses OpenRequester.
	Path RequestPath
	// FailFast: a request to a topic nobody subscribes to fails at once
	// with KindNoResponder (NATS core's no-responders status, the memory
	// bus), instead of waiting for its deadline.
	FailFast bool
}
