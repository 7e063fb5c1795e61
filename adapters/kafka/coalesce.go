package kafka

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// coalesceWait is how long a record waits for others to join it before
// it goes to franz-go, and only while other records of the topic are in
// flight: a record taken when none is goes at once. franz-go (linger 0)
// sends a request as soon as one of its 5 slots per broker is free, so
// 16 goroutines each publishing one record at a time made requests of
// 2.7 records on average, and the broker's CPU per request limited them;
// held they share requests (bench herald-p16-c1, 1 KiB, two rounds each:
// 7.0k msg/s without, 11.6k at 100 µs, 11.1k at 500 µs). The wait is
// also the tail of a Publish of many messages (its last records wait for
// the timer): herald-b100-c1 52k without, 42k at 100 µs, 37k at 500 µs.
// A lone caller (herald-p1-c1) is not delayed.
const coalesceWait = 100 * time.Microsecond

// coalesceMax is how many records waiting make it go at once: a stream
// (PublishAsync) does not wait for the timer.
const coalesceMax = 64

// coalescer holds the records of a topic taken while others are in
// flight, for up to coalesceWait, and hands them to franz-go together.
// Records go to franz-go in the order they were taken (a key's order).
type coalescer struct {
	produce  func(*kgo.Record) // hands one record to franz-go; never blocks
	wait     time.Duration     // coalesceWait (tests set another)
	inflight atomic.Int64      // records taken and not answered

	mu    sync.Mutex
	held  []*kgo.Record
	timer *time.Timer // armed while held is not empty
}

func newCoalescer(produce func(*kgo.Record)) *coalescer {
	c := &coalescer{produce: produce, wait: coalesceWait}
	c.timer = time.AfterFunc(time.Hour, c.release)
	c.timer.Stop()
	return c
}

// take hands rec to franz-go now if no other record is in flight, else
// holds it.
func (c *coalescer) take(rec *kgo.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight.Add(1) == 1 {
		// Nothing in flight, so nothing held (held records are in
		// flight): nothing taken earlier can be overtaken.
		c.produce(rec)
		return
	}
	c.held = append(c.held, rec)
	switch len(c.held) {
	case 1:
		c.timer.Reset(c.wait)
	case coalesceMax:
		c.timer.Stop()
		c.releaseLocked()
	}
}

// answered counts one record answered.
func (c *coalescer) answered() { c.inflight.Add(-1) }

// release hands every held record to franz-go.
func (c *coalescer) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.releaseLocked()
}

func (c *coalescer) releaseLocked() {
	for i, r := range c.held {
		c.produce(r)
		c.held[i] = nil
	}
	c.held = c.held[:0]
}

// idle reports whether every record taken was answered.
func (c *coalescer) idle() bool { return c.inflight.Load() == 0 }
