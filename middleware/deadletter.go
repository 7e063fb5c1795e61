package middleware

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldkit/herald"
)

// Metadata headers DeadLetter sets on the dead-lettered copy of a message.
// Timestamps are RFC 3339 in UTC with nanoseconds (time.RFC3339Nano).
const (
	// DLQOriginalIDHeader is the ID of the message that was dead-lettered.
	// The dead-lettered copy has an ID of its own: a backend that drops
	// messages whose ID it has seen recently (JetStream's duplicate
	// window, with one stream capturing both topics) would otherwise drop
	// the copy, and a replayed copy is not mistaken for the original by
	// Deduplicate.
	DLQOriginalIDHeader = "herald-dlq-original-id"
	// DLQTopicHeader is the topic the message was consumed from.
	DLQTopicHeader = "herald-dlq-topic"
	// DLQGroupHeader is the consumer group, when there was one.
	DLQGroupHeader = "herald-dlq-group"
	// DLQBackendHeader is the backend's scheme (kafka, amqp, nats, ...).
	DLQBackendHeader = "herald-dlq-backend"
	// DLQErrorHeader is the text of the last error, truncated to
	// DefaultDLQMaxErrorLen bytes (see DeadLetterMaxErrorLen).
	DLQErrorHeader = "herald-dlq-error"
	// DLQReasonHeader is why the message was dead-lettered: "exhausted"
	// (Retry gave up), "permanent" (a herald.Permanent error) or "failed"
	// (the handler failed and no Retry asked for another attempt).
	DLQReasonHeader = "herald-dlq-reason"
	// DLQAttemptsHeader is the number of attempts made, in decimal.
	DLQAttemptsHeader = "herald-dlq-attempts"
	// DLQFirstFailureHeader is when the first attempt failed.
	DLQFirstFailureHeader = "herald-dlq-first-failure"
	// DLQTimeHeader is when the message was dead-lettered.
	DLQTimeHeader = "herald-dlq-time"
)

// DefaultDLQMaxErrorLen bounds the error text in DLQErrorHeader, so that
// headers stay within every broker's limits.
const DefaultDLQMaxErrorLen = 2048

// Dead-letter reasons, the values of DLQReasonHeader.
const (
	DLQReasonExhausted = "exhausted"
	DLQReasonPermanent = "permanent"
	DLQReasonFailed    = "failed"
)

// DeadLetterOption configures DeadLetter.
type DeadLetterOption func(*deadLetterConfig)

type deadLetterConfig struct {
	maxErrLen int
	onDead    []func(ctx context.Context, e Event)
	now       func() time.Time
}

// DeadLetterMaxErrorLen sets the longest error text kept in DLQErrorHeader
// (default DefaultDLQMaxErrorLen); n <= 0 keeps the default.
func DeadLetterMaxErrorLen(n int) DeadLetterOption {
	return func(c *deadLetterConfig) {
		if n > 0 {
			c.maxErrLen = n
		}
	}
}

// OnDeadLetter registers fn, called with an Event of kind EventDeadLetter
// after each successful dead-letter publish. It may be given more than once.
func OnDeadLetter(fn func(ctx context.Context, e Event)) DeadLetterOption {
	return func(c *deadLetterConfig) {
		if fn != nil {
			c.onDead = append(c.onDead, fn)
		}
	}
}

// ErrDeadLetterFailed is wrapped in the error DeadLetter returns when the
// dead-letter publish fails; the error also wraps the publish error and the
// handler's error, and the message is nacked.
var ErrDeadLetterFailed = errors.New("herald: dead-letter publish failed")

// ErrDeadLetterNotConfigured is wrapped in the error a DeadLetter
// middleware built with a nil publisher or an empty topic returns for a
// failed message (which is then nacked, never dropped).
var ErrDeadLetterNotConfigured = errors.New("herald: dead-letter publisher or topic not set")

// TopicPlaceholder in a dead-letter topic stands for the topic the message
// was consumed from: "{topic}.dlq" dead-letters "orders" to "orders.dlq".
const TopicPlaceholder = "{topic}"

// DeadLetter returns middleware that parks messages the handler could not
// process: when the handler chain inside it fails for good, it publishes a
// copy of the message (same payload and metadata, key included, but a new
// ID: the original's is in DLQOriginalIDHeader) to topic through pub, with
// the DLQ*Header metadata added, and acks the original (returns nil). TopicPlaceholder in topic is replaced by the
// consumed topic.
//
// "For good" means: an error Retry gave up on (ErrRetriesExhausted), a
// herald.Permanent error, or any other error that does not ask for a
// redelivery with herald.RetryAfter. Place DeadLetter outside (before)
// Retry so that it sees only the final outcome. While ctx is done (the
// subscriber is stopping) nothing is dead-lettered: the error is returned
// and the message redelivered later.
//
// If the dead-letter publish fails, the returned error wraps both errors
// and the message is nacked: a message is never dropped.
func DeadLetter(pub herald.Publisher, topic string, opts ...DeadLetterOption) herald.Middleware {
	c := newDeadLetterConfig(opts)
	return func(next herald.Handler) herald.Handler {
		return herald.Handler(func(ctx context.Context, msg *herald.Message) error {
			ctx, st := withState(ctx)
			err := next.Handle(ctx, msg)
			if err == nil || ctx.Err() != nil {
				return err
			}
			reason := DLQReasonFailed
			switch {
			case errors.Is(err, ErrRetriesExhausted):
				reason = DLQReasonExhausted
			case herald.IsPermanent(err):
				reason = DLQReasonPermanent
			default:
				if _, ok := herald.RetryDelay(err); ok {
					return err // a redelivery is scheduled: not final yet
				}
			}
			if pub == nil || topic == "" {
				return fmt.Errorf("%w; message left for redelivery: %w", ErrDeadLetterNotConfigured, err)
			}
			now := c.now().UTC()
			attempts, first := st.snapshot()
			if first.IsZero() {
				first = now
			}
			d, _ := herald.DeliveryFromContext(ctx)
			dlTopic := strings.ReplaceAll(topic, TopicPlaceholder, d.Topic)
			dl := c.deadLetterCopy(msg, d, err, reason, attempts, first, now)
			if perr := pub.Publish(ctx, dlTopic, dl); perr != nil {
				return fmt.Errorf("%w: topic %q: %w; message left for redelivery (handler error: %w)", ErrDeadLetterFailed, dlTopic, perr, err)
			}
			e := Event{Kind: EventDeadLetter, Topic: d.Topic, MessageID: msg.UUID, Attempt: attempts, Err: err, DeadLetterTopic: dlTopic}
			for _, fn := range c.onDead {
				fn(ctx, e)
			}
			st.emit(ctx, e)
			return nil
		})
	}
}

func newDeadLetterConfig(opts []DeadLetterOption) deadLetterConfig {
	c := deadLetterConfig{maxErrLen: DefaultDLQMaxErrorLen, now: time.Now}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// deadLetterCopy is the copy of msg DeadLetter and BatchDeadLetter
// publish: the same payload and metadata under a new ID, with the DLQ*
// headers of delivery d failed with err.
func (c deadLetterConfig) deadLetterCopy(msg *herald.Message, d herald.Delivery, err error, reason string, attempts int, first, now time.Time) *herald.Message {
	dl := msg.Copy()
	dl.UUID = herald.NewID()
	if dl.Metadata == nil {
		dl.Metadata = make(map[string]string)
	}
	dl.Metadata.Set(DLQOriginalIDHeader, msg.UUID)
	// A message dead-lettered before (and replayed) gets fresh headers.
	delete(dl.Metadata, DLQGroupHeader)
	delete(dl.Metadata, DLQBackendHeader)
	dl.Metadata.Set(DLQTopicHeader, d.Topic)
	if d.Group != "" {
		dl.Metadata.Set(DLQGroupHeader, d.Group)
	}
	if d.Backend != "" {
		dl.Metadata.Set(DLQBackendHeader, d.Backend)
	}
	dl.Metadata.Set(DLQErrorHeader, truncate(causeText(err), c.maxErrLen))
	dl.Metadata.Set(DLQReasonHeader, reason)
	dl.Metadata.Set(DLQAttemptsHeader, strconv.Itoa(attempts))
	dl.Metadata.Set(DLQFirstFailureHeader, first.UTC().Format(time.RFC3339Nano))
	dl.Metadata.Set(DLQTimeHeader, now.Format(time.RFC3339Nano))
	return dl
}

// causeText is the error text for DLQErrorHeader: the handler's own error,
// without Retry's "gave up" wrapper (the attempts have their own header).
func causeText(err error) string {
	var ex *ExhaustedError
	if errors.As(err, &ex) && ex.Err != nil {
		return ex.Err.Error()
	}
	return err.Error()
}

// truncate shortens s to at most n bytes without splitting a UTF-8
// sequence, marking the cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := max(n-len(mark), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
