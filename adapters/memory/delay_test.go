package memory

import (
	"context"
	"github.com/heraldkit/herald/adapters"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
)

// fakeClock is a clock the test advances; its calls run in Advance.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	calls []*fakeCall
}

type fakeCall struct {
	at      time.Time
	f       func()
	stopped bool
}

func (c *fakeCall) Stop() bool { c.stopped = true; return true }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) AfterFunc(d time.Duration, f func()) stopper {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := &fakeCall{at: c.now.Add(d), f: f}
	c.calls = append(c.calls, k)
	return k
}

// Advance moves the time by d and runs the calls due, in the caller's
// goroutine.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeCall
	rest := c.calls[:0]
	for _, k := range c.calls {
		switch {
		case k.stopped:
		case !k.at.After(c.now):
			due = append(due, k)
		default:
			rest = append(rest, k)
		}
	}
	c.calls = rest
	c.mu.Unlock()
	for _, k := range due {
		k.f()
	}
}

// TestDelayOnClock: on the bus's clock, a delayed message is queued not
// before its time, equal times keep the send order, an earlier time sent
// later comes first, and the bus's end drops what it holds.
func TestDelayOnClock(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1_000_000, 0)}
	b := newBus(settings{name: "clock", buffer: 16}, clk)
	b.refs = 1
	g := b.group("t", "g")
	tp := &topic{bus: b, stop: make(chan struct{})}
	send := func(payload string, at time.Time) {
		t.Helper()
		var got error = context.Canceled
		if err := tp.Send(context.Background(), "t", herald.NewMessage([]byte(payload)), adapters.SendOptions{At: at}, func(err error) { got = err }); err != nil || got != nil {
			t.Fatalf("SendAt %s: %v, done %v", payload, err, got)
		}
	}
	queued := func() []string {
		buf := make([]*herald.Message, 16)
		n, _ := g.take(buf)
		var out []string
		for _, m := range buf[:n] {
			out = append(out, string(m.Payload))
		}
		return out
	}
	t0 := clk.Now()
	send("b1", t0.Add(2*time.Second))
	send("b2", t0.Add(2*time.Second))
	send("a", t0.Add(time.Second))
	send("c", t0.Add(3*time.Second))
	clk.Advance(999 * time.Millisecond)
	if got := queued(); len(got) != 0 {
		t.Fatalf("queued %v before their time", got)
	}
	clk.Advance(time.Millisecond)
	if got := queued(); len(got) != 1 || got[0] != "a" {
		t.Fatalf("at 1s queued %v; want [a]", got)
	}
	clk.Advance(time.Second)
	if got := queued(); len(got) != 2 || got[0] != "b1" || got[1] != "b2" {
		t.Fatalf("at 2s queued %v; want [b1 b2] (send order for equal times)", got)
	}
	b.release() // the bus ends: c is dropped (not durable)
	clk.Advance(time.Hour)
	if got := queued(); len(got) != 0 {
		t.Fatalf("queued %v after the bus ended", got)
	}
}
