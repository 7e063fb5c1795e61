package adaptertest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
)

// received records what a handler or a stream saw.
type received struct {
	ID       string
	Payload  []byte
	Metadata map[string]string
	// Time is the handler's herald.Delivery.Time (zero from a stream).
	Time time.Time
}

// collector records deliveries and signals waiters.
type collector struct {
	mu     sync.Mutex
	byID   map[string]int
	order  []received
	notify chan struct{}
}

func newCollector() *collector {
	return &collector{byID: map[string]int{}, notify: make(chan struct{}, 1)}
}

// add records m.
func (c *collector) add(m *herald.Message) {
	md := map[string]string{}
	for k, v := range m.Metadata {
		md[k] = v
	}
	d, _ := herald.DeliveryFromContext(m.Context())
	c.mu.Lock()
	c.byID[m.UUID]++
	c.order = append(c.order, received{ID: m.UUID, Payload: append([]byte(nil), m.Payload...), Metadata: md, Time: d.Time})
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// handler records every message and acks it.
func (c *collector) handler(_ context.Context, m *herald.Message) error {
	c.add(m)
	return nil
}

// distinct returns how many different messages were recorded.
func (c *collector) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID)
}

// deliveries returns how many deliveries were recorded, redeliveries
// included.
func (c *collector) deliveries() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.order)
}

// has reports whether message id was recorded.
func (c *collector) has(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byID[id] > 0
}

// snapshot returns the deliveries in the order recorded.
func (c *collector) snapshot() []received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]received(nil), c.order...)
}

// waitUntil waits until cond holds, checking after every delivery.
func (c *collector) waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-c.notify:
		case <-deadline.C:
			if !cond() {
				t.Fatalf("timed out after %v waiting for %s (distinct %d, deliveries %d)", d, what, c.distinct(), c.deliveries())
			}
			return
		}
	}
}

// waitIDs waits until every id was delivered at least once.
func (c *collector) waitIDs(t *testing.T, d time.Duration, ids []string) {
	t.Helper()
	c.waitUntil(t, d, "all published messages", func() bool {
		for _, id := range ids {
			if !c.has(id) {
				return false
			}
		}
		return true
	})
}

// waitAny waits for cond, checking after every delivery to any of cs.
func waitAny(t *testing.T, d time.Duration, what string, cond func() bool, cs ...*collector) {
	t.Helper()
	merged := newCollector()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, c := range cs {
		go func() {
			for {
				select {
				case <-c.notify:
					select {
					case merged.notify <- struct{}{}:
					default:
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	merged.waitUntil(t, d, what, cond)
}

// eitherHas returns a condition: each of ids reached a or b.
func eitherHas(a, b *collector, ids []string) func() bool {
	return func() bool {
		for _, id := range ids {
			if !a.has(id) && !b.has(id) {
				return false
			}
		}
		return true
	}
}

// copyWatch is how long the group tests watch for a group that copies
// messages to every member instead of sharing them (a negative can only
// be watched for a while).
const copyWatch = 500 * time.Millisecond

// watchAny reports whether cond came to hold within d, checking after
// every delivery to any of cs; it returns as soon as it does.
func watchAny(d time.Duration, cond func() bool, cs ...*collector) bool {
	merged := newCollector()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for _, c := range cs {
		go func() {
			for {
				select {
				case <-c.notify:
					select {
					case merged.notify <- struct{}{}:
					default:
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	for !cond() {
		select {
		case <-merged.notify:
		case <-ctx.Done():
			return cond()
		}
	}
	return true
}

// inBoth returns how many of ids reached both a and b.
func inBoth(a, b *collector, ids []string) int {
	n := 0
	for _, id := range ids {
		if a.has(id) && b.has(id) {
			n++
		}
	}
	return n
}
