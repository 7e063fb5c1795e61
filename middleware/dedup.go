package middleware

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/heraldkit/herald"
)

// Deduplicate defaults.
const (
	DefaultDedupSize = 10_000
	DefaultDedupTTL  = 10 * time.Minute
)

// ErrDuplicateInFlight is wrapped in the error Deduplicate returns for a
// message whose ID is being handled right now by another worker: it asks
// for a redelivery after DedupInFlightDelay, by which time the first
// delivery has usually finished.
var ErrDuplicateInFlight = errors.New("herald: duplicate of a message being handled")

// DedupInFlightDelay is the redelivery delay asked for a duplicate that
// arrives while the original is still being handled.
const DedupInFlightDelay = time.Second

// DedupOption configures Deduplicate.
type DedupOption func(*dedupConfig)

type dedupConfig struct {
	size int
	ttl  time.Duration
	key  func(*herald.Message) string
	now  func() time.Time
}

// DedupSize sets how many processed message keys are remembered (default
// DefaultDedupSize); the least recently seen are forgotten first. n <= 0
// keeps the default.
func DedupSize(n int) DedupOption {
	return func(c *dedupConfig) {
		if n > 0 {
			c.size = n
		}
	}
}

// DedupTTL sets how long a processed key is remembered (default
// DefaultDedupTTL); d <= 0 means until evicted by DedupSize.
func DedupTTL(d time.Duration) DedupOption {
	return func(c *dedupConfig) { c.ttl = max(d, 0) }
}

// DedupKey sets what identifies a message (default: its ID). A message for
// which fn returns "" is always handled.
func DedupKey(fn func(*herald.Message) string) DedupOption {
	return func(c *dedupConfig) {
		if fn != nil {
			c.key = fn
		}
	}
}

// Deduplicate returns middleware that handles each message ID once: a
// message whose ID was processed successfully (the chain inside returned
// nil) within the TTL is acked without calling the handler, and an
// EventDuplicate is reported. A failed message is not remembered, so its
// redeliveries are handled. Memory is bounded (DedupSize keys, LRU) and
// per process: it catches the broker's at-least-once redeliveries to this
// process, not duplicates handled by other instances.
//
// Place it outside DeadLetter, so that a dead-lettered message (which
// counts as processed) is not dead-lettered twice.
func Deduplicate(opts ...DedupOption) herald.Middleware {
	c := dedupConfig{size: DefaultDedupSize, ttl: DefaultDedupTTL, key: func(m *herald.Message) string { return m.UUID }}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return func(next herald.Handler) herald.Handler {
		d := &deduper{cfg: c, next: next, done: newLRU[struct{}](c.size, c.ttl, c.now), busy: map[string]struct{}{}}
		return herald.Handler(d.handle)
	}
}

type deduper struct {
	cfg  dedupConfig
	next herald.Handler
	done *lru[struct{}]

	mu   sync.Mutex
	busy map[string]struct{}
}

func (d *deduper) handle(ctx context.Context, msg *herald.Message) error {
	key := d.cfg.key(msg)
	if key == "" {
		return d.next.Handle(ctx, msg)
	}
	ctx, st := withState(ctx)
	d.mu.Lock()
	if _, dup := d.done.get(key); dup {
		d.mu.Unlock()
		st.emit(ctx, Event{Kind: EventDuplicate, Topic: topicOf(ctx), MessageID: msg.UUID})
		return nil
	}
	if _, busy := d.busy[key]; busy {
		d.mu.Unlock()
		return herald.RetryAfter(ErrDuplicateInFlight, DedupInFlightDelay)
	}
	d.busy[key] = struct{}{}
	d.mu.Unlock()
	ok := false
	defer func() {
		d.mu.Lock()
		if ok {
			d.done.put(key, struct{}{})
		}
		delete(d.busy, key)
		d.mu.Unlock()
	}()
	err := d.next.Handle(ctx, msg)
	ok = err == nil
	return err
}
