package middleware

import (
	"context"
	"sync"
	"time"

	"github.com/heraldkit/herald"
)

// EventKind says what an Event reports.
type EventKind int

const (
	// EventRetry: an attempt failed and the message will be tried again,
	// after Event.Delay (slept in the handler, or requested from the
	// backend when Event.Redelivery is set).
	EventRetry EventKind = iota + 1
	// EventDeadLetter: the message was published to the dead-letter topic
	// Event.DeadLetterTopic and will be acked.
	EventDeadLetter
	// EventDuplicate: Deduplicate acked a message it had already processed
	// without calling the handler.
	EventDuplicate
)

// String returns "retry", "dead_letter" or "duplicate".
func (k EventKind) String() string {
	switch k {
	case EventRetry:
		return "retry"
	case EventDeadLetter:
		return "dead_letter"
	case EventDuplicate:
		return "duplicate"
	}
	return "unknown"
}

// Event is a decision taken by Retry, DeadLetter or Deduplicate about one
// delivery. Observers registered further out in the chain (see Observe)
// receive it; Logging, and otelmw's Metrics and Tracing, are such observers.
type Event struct {
	Kind      EventKind
	Topic     string // the topic the message was consumed from
	MessageID string
	// Attempt is the attempt that failed (EventRetry, 1-based) or the
	// number of attempts made (EventDeadLetter).
	Attempt int
	// Err is the handler's error (EventRetry, EventDeadLetter).
	Err error
	// Delay is, for EventRetry, the delay actually slept before the next
	// attempt or, with Event.Redelivery, the redelivery delay asked of the
	// backend.
	Delay time.Duration
	// Redelivery is true when the retry happens by redelivery (see
	// Redelivery) rather than in the handler.
	Redelivery bool
	// DeadLetterTopic is where the message was dead-lettered.
	DeadLetterTopic string
}

// Observer receives Events. Observe must not block for long: it runs on the
// handler's goroutine.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// ObserverFunc adapts a function to an Observer.
type ObserverFunc func(ctx context.Context, e Event)

// Observe calls f(ctx, e).
func (f ObserverFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }

// Observe returns middleware that registers obs for the deliveries it
// handles: the Retry, DeadLetter and Deduplicate middleware listed after it
// (inside it) report their Events to obs. Logging, and otelmw's Metrics
// and Tracing, register themselves the same way.
func Observe(obs Observer) herald.Middleware {
	return func(next herald.Handler) herald.Handler {
		if obs == nil {
			return next
		}
		key := new(byte)
		return herald.Handler(func(ctx context.Context, msg *herald.Message) error {
			ctx, st := withState(ctx)
			st.observe(key, obs)
			return next.Handle(ctx, msg)
		})
	}
}

// Attempt returns the number of the attempt being made at the message
// handled with ctx: 1 for the first, as counted by Retry (across
// redeliveries in Redelivery mode). It is 1 when no Retry is in the chain.
func Attempt(ctx context.Context) int {
	if st := stateFrom(ctx); st != nil {
		if n := st.attemptNum(); n > 0 {
			return n
		}
	}
	return 1
}

// state is shared by the middleware of one delivery: Retry writes the
// attempt count, DeadLetter and the observers read it. The first of this
// package's middleware in the chain creates it.
type state struct {
	mu           sync.Mutex
	attempt      int
	firstFailure time.Time
	observers    []observer
}

// observer is a registered Observer; key identifies the middleware
// instance that registered it, so that one registers at most once per
// delivery.
type observer struct {
	key *byte
	obs Observer
}

type stateKey struct{}

// withState returns ctx carrying the delivery's state, creating it if ctx
// has none.
func withState(ctx context.Context) (context.Context, *state) {
	if st := stateFrom(ctx); st != nil {
		return ctx, st
	}
	st := &state{}
	return context.WithValue(ctx, stateKey{}, st), st
}

func stateFrom(ctx context.Context) *state {
	st, _ := ctx.Value(stateKey{}).(*state)
	return st
}

// observe registers obs under key, once per key.
func (s *state) observe(key *byte, obs Observer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.observers {
		if o.key == key {
			return
		}
	}
	s.observers = append(s.observers, observer{key: key, obs: obs})
}

func (s *state) setAttempt(n int, firstFailure time.Time) {
	s.mu.Lock()
	s.attempt = n
	if !firstFailure.IsZero() {
		s.firstFailure = firstFailure
	}
	s.mu.Unlock()
}

func (s *state) failed(now time.Time) {
	s.mu.Lock()
	if s.firstFailure.IsZero() {
		s.firstFailure = now
	}
	s.mu.Unlock()
}

func (s *state) attemptNum() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempt
}

// snapshot returns the attempt count (at least 1) and the first failure
// time (zero if none was recorded).
func (s *state) snapshot() (int, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.attempt
	if n < 1 {
		n = 1
	}
	return n, s.firstFailure
}

// emit sends e to the observers registered for the delivery.
func (s *state) emit(ctx context.Context, e Event) {
	s.mu.Lock()
	obs := append([]observer(nil), s.observers...)
	s.mu.Unlock()
	for _, o := range obs {
		o.obs.Observe(ctx, e)
	}
}

// topicOf returns the topic of the delivery handled with ctx, or "".
func topicOf(ctx context.Context) string {
	if d, ok := herald.DeliveryFromContext(ctx); ok {
		return d.Topic
	}
	return ""
}
