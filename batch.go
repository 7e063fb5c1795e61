package herald

import (
	"context"
	"errors"
	"fmt"
)

// BatchHandler processes several consumed messages at once (see
// subscriber.SubscribeBatch). It sets a result per message on b (Ack is
// the default); its return value is for the batch as a whole: a non-nil
// error, like a panic, retries every message of b, whatever results were
// set. Each message's Context carries its Delivery (its own Attempt).
type BatchHandler func(ctx context.Context, b *Batch) error

// Handle calls h(ctx, b). Batch middleware call the next handler with it.
func (h BatchHandler) Handle(ctx context.Context, b *Batch) error { return h(ctx, b) }

// BatchMiddleware wraps a BatchHandler. In a list the first is the
// outermost: it sees the batch first and the results last.
type BatchMiddleware func(BatchHandler) BatchHandler

// ChainBatch wraps h in mws; mws[0] is the outermost.
func ChainBatch(h BatchHandler, mws ...BatchMiddleware) BatchHandler {
	for i := len(mws) - 1; i >= 0; i-- {
		if mws[i] != nil {
			h = mws[i](h)
		}
	}
	return h
}

// Outcome is what becomes of one message of a Batch.
type Outcome uint8

const (
	// OutcomeAck: the message was processed; it is acked.
	OutcomeAck Outcome = iota
	// OutcomeRetry: the message is redelivered after a delay: the one
	// herald.RetryAfter put in its error, else one that grows with its
	// failures, as for a Handler's error.
	OutcomeRetry
	// OutcomeDeadLetter: the message cannot be processed and should be
	// parked. A dead-letter batch middleware (middleware.BatchDeadLetter)
	// publishes it and turns the outcome into OutcomeDeadLettered; one
	// that reaches the subscriber is kept and redelivered rarely, like a
	// permanent error with no dead-letter middleware, and logged.
	OutcomeDeadLetter
	// OutcomeDeadLettered: the message was published to a dead-letter
	// topic; it is acked.
	OutcomeDeadLettered
)

// String returns "ack", "retry", "dead_letter" or "dead_lettered".
func (o Outcome) String() string {
	switch o {
	case OutcomeAck:
		return "ack"
	case OutcomeRetry:
		return "retry"
	case OutcomeDeadLetter:
		return "dead_letter"
	case OutcomeDeadLettered:
		return "dead_lettered"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// BatchResult is the result set for one message of a Batch.
type BatchResult struct {
	Outcome Outcome
	// Err is why the message failed (OutcomeRetry, OutcomeDeadLetter,
	// OutcomeDeadLettered); nil for OutcomeAck.
	Err error
	// DeadLetterTopic is where the message was parked
	// (OutcomeDeadLettered).
	DeadLetterTopic string
}

// errNoReason stands for a nil error given to Retry or DeadLetter.
var errNoReason = errors.New("herald: the batch handler gave no error")

// Batch is the messages one call of a BatchHandler handles, in delivery
// order (publish order per key where the backend keeps it), and a result
// for each, OutcomeAck until the handler sets another. A Batch is used by
// one goroutine at a time.
type Batch struct {
	// Messages are the batch's messages; do not reorder or resize it.
	Messages []*Message
	results  []BatchResult
}

// NewBatch returns a batch of msgs, every result OutcomeAck. The
// subscriber makes the batches it hands to a BatchHandler; NewBatch is
// for tests of handlers and middleware.
func NewBatch(msgs []*Message) *Batch {
	return &Batch{Messages: msgs, results: make([]BatchResult, len(msgs))}
}

// Len is the number of messages.
func (b *Batch) Len() int { return len(b.Messages) }

// Result is the result set for message i.
func (b *Batch) Result(i int) BatchResult { return b.results[i] }

// Set sets the result of message i (for middleware; handlers use Ack,
// Retry, DeadLetter and FailFrom).
func (b *Batch) Set(i int, r BatchResult) {
	if r.Outcome != OutcomeAck && r.Err == nil {
		r.Err = errNoReason
	}
	b.results[i] = r
}

// Ack marks message i processed.
func (b *Batch) Ack(i int) { b.Set(i, BatchResult{Outcome: OutcomeAck}) }

// Retry marks message i for redelivery because of err. The delay is the
// one herald.RetryAfter put in err, else one that grows with the
// message's failures.
func (b *Batch) Retry(i int, err error) { b.Set(i, BatchResult{Outcome: OutcomeRetry, Err: err}) }

// DeadLetter marks message i to be parked because of err (see
// OutcomeDeadLetter).
func (b *Batch) DeadLetter(i int, err error) {
	b.Set(i, BatchResult{Outcome: OutcomeDeadLetter, Err: err})
}

// FailFrom marks the messages before i processed and message i and every
// later one for redelivery because of err: the shortcut for a handler
// that processes messages in order and stops at the first failure. i may
// be Len() (every message processed).
func (b *Batch) FailFrom(i int, err error) {
	for j := range b.results {
		if j < i {
			b.Ack(j)
		} else {
			b.Retry(j, err)
		}
	}
}

// RetryAll marks every message for redelivery because of err: what the
// subscriber does when the handler returns err or panics.
func (b *Batch) RetryAll(err error) { b.FailFrom(0, err) }

// Count is the number of messages whose outcome is o.
func (b *Batch) Count(o Outcome) int {
	n := 0
	for _, r := range b.results {
		if r.Outcome == o {
			n++
		}
	}
	return n
}
