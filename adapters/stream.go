package adapters

import (
	"context"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// StreamSubscriber is implemented by an adapter's Watermill subscriber that
// can hand out a window of messages and have them settled in any order:
// Herald's fast consume path. The subscriber package opens one Stream per
// Subscribe call and feeds its workers from it; without it, it falls back
// to Watermill's Subscribe (one subscription per worker, one message in
// flight each).
type StreamSubscriber interface {
	// Stream starts consuming topic with at most window unsettled
	// deliveries at a time (prefetch, MaxAckPending, Kafka fetch); window
	// 0 means the adapter's default (its prefetch or window option). It
	// returns once the subscription exists, so a message published after
	// it returned is delivered (as Subscribe). ctx bounds the setup and
	// carries ReportStatus for the stream's lifetime; the stream itself
	// ends with Close.
	Stream(ctx context.Context, topic string, window int) (Stream, error)
}

// Stream is one consumption of a topic. Receive is called from one
// goroutine; Ack and Nack from any, concurrently with Receive.
type Stream interface {
	// Receive fills buf with up to len(buf) deliveries and returns how
	// many. It blocks until at least one is available, ctx ends (it
	// returns ctx.Err()), or the stream is closed (an error wrapping
	// herald.ErrClosed). Any other error means the stream broke for good
	// and must be opened again; a stream that retries by itself keeps
	// Receive blocked meanwhile and reports with ReportStatus. Receive
	// blocks while window deliveries are unsettled.
	Receive(ctx context.Context, buf []Delivery) (int, error)
	// Ack settles d as processed. It does not block on the broker: acks
	// are sent asynchronously and coalesced where the broker allows
	// (AMQP multiple-ack of a contiguous prefix; Kafka commits per
	// partition up to the lowest unsettled offset, never past it).
	Ack(d Delivery)
	// Nack settles d for redelivery after delay (0: as soon as the
	// backend redelivers; see NackDelay for how delays are honoured).
	Nack(d Delivery, delay time.Duration)
	// Close stops receiving. Deliveries not settled are left for
	// redelivery (returned to the broker at once where it can be done);
	// settlements already made are flushed to the broker within ctx.
	// Ack and Nack after Close do nothing. Close is idempotent.
	Close(ctx context.Context) error
}

// Delivery is one message handed out by a Stream.
type Delivery struct {
	// Msg is the message, as the handler sees it. Its Ack and Nack are
	// not used on this path: the subscriber settles through the Stream.
	Msg *message.Message
	// Key orders deliveries: the subscriber runs the handlers of
	// deliveries with the same non-empty Key one at a time, in Receive
	// order, and the others in parallel. Adapters set it to the
	// message's key (herald.SetKey: the Kafka record key, the herald-key
	// header elsewhere).
	Key string
	// Attempt is the backend's count of deliveries of this message (1
	// for the first), 0 when the backend does not count.
	Attempt int
	// Ref, Seq and Part are the adapter's own handle on the delivery
	// (e.g. the jetstream.Msg, an AMQP delivery tag and channel
	// generation, a Kafka offset and partition).
	Ref  any
	Seq  uint64
	Part int32
}
