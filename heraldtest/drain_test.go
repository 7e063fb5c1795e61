package heraldtest_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/heraldtest"
)

// Drain returns only once a chain of handlers is done: "in" fans out to
// "mid" (handled by two members with 4 handlers each, each message
// failing once and redelivered on the clock), which publishes to "out"
// after a pause; one message in three also publishes to "extra". The
// counts are asserted right after one Drain, with no waiting: a Drain
// that returned while a handler ran, a message was queued or held for
// redelivery would leave them short. Run it with -race: the handlers'
// writes are read after Drain without a lock of the test's own.
func TestDrainWaitsForEverything(t *testing.T) {
	for round := range 20 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			ctx := testCtx(t)
			h := heraldtest.New(t)
			pub := openPub(t, h)
			const fanout = 3
			var outs, extras int64 // written by handlers, read after Drain
			var outCount atomic.Int64
			pause := func() {
				for range rand.IntN(3) {
					runtime.Gosched()
				}
				if rand.IntN(4) == 0 {
					time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
				}
			}
			subscribe(t, h, "in", "a", func(ctx context.Context, m *herald.Message) error {
				pause()
				for i := range fanout {
					mm := herald.NewMessage(fmt.Appendf(nil, "%s/%d", m.Payload, i))
					herald.SetKey(mm, fmt.Sprint(i))
					if err := pub.Publish(ctx, "mid", mm); err != nil {
						return err
					}
				}
				return nil
			})
			mid := func(ctx context.Context, m *herald.Message) error {
				d, _ := herald.DeliveryFromContext(ctx)
				if d.Attempt == 1 {
					return errors.New("first attempt fails")
				}
				pause()
				if err := pub.Publish(ctx, "out", herald.NewMessage(m.Payload)); err != nil {
					return err
				}
				outCount.Add(1)
				if strings.HasSuffix(string(m.Payload), "/0") {
					pause()
					if err := pub.Publish(ctx, "extra", herald.NewMessage(m.Payload)); err != nil {
						return err
					}
				}
				return nil
			}
			subscribe(t, h, "mid", "b", mid, withConcurrency(4))
			subscribe(t, h, "mid", "b", mid, withConcurrency(4))
			subscribe(t, h, "out", "c", func(context.Context, *herald.Message) error { pause(); outs++; return nil })
			subscribe(t, h, "extra", "d", func(context.Context, *herald.Message) error { pause(); extras++; return nil })
			const n = 10
			for i := range n {
				publish(t, pub, "in", fmt.Sprint(i))
			}
			if err := h.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			if outs != n*fanout || extras != n || outCount.Load() != n*fanout {
				t.Fatalf("after Drain: out handled %d, extra handled %d, mid published %d; want %d, %d, %d", outs, extras, outCount.Load(), n*fanout, n, n*fanout)
			}
			if got := len(h.Published("extra")); got != n {
				t.Fatalf("Published(extra) = %d, want %d: nothing else was published", got, n)
			}
			if got := len(h.Failed("mid", "b")); got != n*fanout {
				t.Fatalf("Failed(mid, b) = %d, want %d", got, n*fanout)
			}
		})
	}
}

// Drain waits for a handler that outlives an outage: Down takes its
// delivery, but the handler still runs and publishes; Drain (after Up)
// returns only once its publish was handled too, and Idle (while down)
// only once the handler returned.
func TestDrainCountsHandlersAnOutageInterrupted(t *testing.T) {
	ctx := testCtx(t)
	h := heraldtest.New(t)
	pub := openPub(t, h)
	running, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	var published atomic.Int64
	subscribe(t, h, "in", "a", func(ctx context.Context, m *herald.Message) error {
		if first.CompareAndSwap(false, true) {
			close(running)
			<-release
			return nil // the ack is lost: the message comes again
		}
		published.Add(1)
		return pub.Publish(ctx, "out", herald.NewMessage(nil))
	})
	subscribe(t, h, "out", "b", func(context.Context, *herald.Message) error { return nil })
	publish(t, pub, "in", "x")
	<-running
	h.Down()
	idle := make(chan error, 1)
	go func() { idle <- h.Idle(ctx) }()
	select {
	case err := <-idle:
		t.Fatalf("Idle returned (%v) while a handler ran", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	if err := <-idle; err != nil {
		t.Fatal(err)
	}
	h.Up()
	if err := h.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if published.Load() != 1 || len(h.Handled("out", "b")) != 1 {
		t.Errorf("after Drain: %d published, %d handled on out; want 1, 1", published.Load(), len(h.Handled("out", "b")))
	}
}

// Drain's ctx bounds a message that can never be handled, and the error
// says what is pending.
func TestDrainSaysWhatIsStuck(t *testing.T) {
	h := heraldtest.New(t)
	pub := openPub(t, h)
	sub := subscribe(t, h, "t", "g", func(context.Context, *herald.Message) error { return nil })
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	publish(t, pub, "t", "x") // for group g, which has no subscriber now
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := h.Drain(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `topic "t" group "g": 1 queued with no subscriber running`) {
		t.Errorf("Drain = %v", err)
	}
	if err := h.Idle(ctx); err != nil {
		t.Errorf("Idle = %v: nothing can happen", err)
	}
}
