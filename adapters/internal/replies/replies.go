// Package replies is the correlation table a driver's requester keeps:
// one entry per request in flight, filled by the reply channel's single
// consumer, so concurrent requests share one reply channel.
package replies

import (
	"context"
	"sync"

	"github.com/heraldkit/herald"
)

// Table maps correlation tokens to the requests waiting for them. The
// zero value is not usable; use New.
type Table struct {
	mu      sync.Mutex
	waiting map[string]chan Result
	closed  chan struct{}
	once    sync.Once
}

// Result is what a request gets: a reply, or an error the reply channel
// reported for it (a NATS no-responders status).
type Result struct {
	Msg *herald.Message
	Err error
}

// New returns an empty table.
func New() *Table {
	return &Table{waiting: map[string]chan Result{}, closed: make(chan struct{})}
}

// Add registers token before its request is sent; the returned wait
// blocks for its result, and forget (always call it) removes the entry.
// ok is false once the table is closed.
func (t *Table) Add(token string) (wait func(ctx context.Context) (Result, bool), forget func(), ok bool) {
	ch := make(chan Result, 1)
	t.mu.Lock()
	select {
	case <-t.closed:
		t.mu.Unlock()
		return nil, func() {}, false
	default:
	}
	t.waiting[token] = ch
	t.mu.Unlock()
	wait = func(ctx context.Context) (Result, bool) {
		select {
		case r := <-ch:
			return r, true
		case <-ctx.Done():
			return Result{Err: ctx.Err()}, true
		case <-t.closed:
			return Result{}, false
		}
	}
	forget = func() {
		t.mu.Lock()
		delete(t.waiting, token)
		t.mu.Unlock()
	}
	return wait, forget, true
}

// Deliver hands r to the request waiting for token and reports whether
// one was (a late or duplicate reply finds none and is dropped). It
// never blocks.
func (t *Table) Deliver(token string, r Result) bool {
	t.mu.Lock()
	ch := t.waiting[token]
	delete(t.waiting, token)
	t.mu.Unlock()
	if ch == nil {
		return false
	}
	ch <- r // buffered 1, and the entry was removed: at most one send
	return true
}

// Len is the number of requests waiting.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.waiting)
}

// Close wakes every waiting request with ok false; Add fails after it.
func (t *Table) Close() { t.once.Do(func() { close(t.closed) }) }

// FailAll hands err to every request waiting now (their reply channel
// was lost: a reply can no longer reach them).
func (t *Table) FailAll(err error) {
	t.mu.Lock()
	waiting := t.waiting
	t.waiting = map[string]chan Result{}
	t.mu.Unlock()
	for _, ch := range waiting {
		ch <- Result{Err: err}
	}
}
