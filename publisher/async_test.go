package publisher_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/publisher"
)

func TestPublishAsyncWindowAndFlush(t *testing.T) {
	p, ht := openHeld(t, publisher.WithAsyncWindow(4))
	var answered atomic.Int64
	done := func(*herald.Message, error) { answered.Add(1) }
	for i := 0; i < 4; i++ {
		if err := p.PublishAsync(context.Background(), "t", herald.NewMessage([]byte("x")), done); err != nil {
			t.Fatal(err)
		}
	}
	// The window is full: a fifth waits until its ctx ends.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.PublishAsync(ctx, "t", herald.NewMessage([]byte("x")), done); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PublishAsync with a full window = %v, want a deadline error", err)
	}
	fctx, fcancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer fcancel()
	if err := p.Flush(fctx); err == nil {
		t.Fatal("Flush returned before the broker answered")
	}
	if n := ht.answer(); n != 4 {
		t.Fatalf("%d messages taken, want 4", n)
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := answered.Load(); n != 4 {
		t.Fatalf("%d dones, want 4", n)
	}
}

// Issue 14 item 2: Flush returned before the done callbacks ran (the
// window slot was released before done was called).
func TestFlushWaitsForCallbacks(t *testing.T) {
	p, ht := openHeld(t)
	for round := 0; round < 100; round++ {
		var ran atomic.Int64
		for i := 0; i < 4; i++ {
			err := p.PublishAsync(context.Background(), "t", herald.NewMessage([]byte("x")), func(*herald.Message, error) {
				time.Sleep(50 * time.Microsecond)
				ran.Add(1)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		go ht.answer()
		if err := p.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := ran.Load(); n != 4 {
			t.Fatalf("round %d: Flush returned with %d of 4 dones run", round, n)
		}
	}
}

// Issue 14 item 3: PublishAsync lost done when a publish middleware
// dropped a message, added one, or passed a new context.
func TestPublishAsyncMiddlewareShapes(t *testing.T) {
	drop := func(next herald.PublishFunc) herald.PublishFunc {
		return func(ctx context.Context, topic string, msgs ...*herald.Message) error { return nil }
	}
	add := func(next herald.PublishFunc) herald.PublishFunc {
		return func(ctx context.Context, topic string, msgs ...*herald.Message) error {
			return next(ctx, topic, append(msgs, herald.NewMessage([]byte("extra")))...)
		}
	}
	recontext := func(next herald.PublishFunc) herald.PublishFunc {
		return func(_ context.Context, topic string, msgs ...*herald.Message) error {
			return next(context.Background(), topic, msgs...)
		}
	}
	for _, c := range []struct {
		name  string
		mw    herald.PublishMiddleware
		sends int
	}{{"drop", drop, 0}, {"add", add, 2}, {"recontext", recontext, 1}} {
		t.Run(c.name, func(t *testing.T) {
			p, ht := openHeld(t, publisher.WithMiddleware(c.mw))
			var calls atomic.Int64
			var got error
			msg := herald.NewMessage([]byte("x"))
			err := p.PublishAsync(context.Background(), "t", msg, func(m *herald.Message, err error) {
				if m != msg {
					t.Errorf("done got another message")
				}
				got = err
				calls.Add(1)
			})
			if err != nil {
				t.Fatal(err)
			}
			for range c.sends {
				<-ht.took
			}
			if c.sends > 0 && calls.Load() != 0 {
				t.Fatal("done called before the broker answered")
			}
			ht.answer()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := p.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if n := calls.Load(); n != 1 || got != nil {
				t.Fatalf("done called %d times with %v, want once with nil", n, got)
			}
			cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer ccancel()
			if err := p.Shutdown(cctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		})
	}
}

// A broker that never answers: PublishAsync's done gets an error within
// the publish timeout, and Close returns (issue 14 item 4's class).
func TestPublishAsyncTimeout(t *testing.T) {
	p, _ := openHeld(t, publisher.WithPublishTimeout(100*time.Millisecond))
	errc := make(chan error, 1)
	start := time.Now()
	if err := p.PublishAsync(context.Background(), "t", herald.NewMessage([]byte("x")), func(_ *herald.Message, err error) { errc <- err }); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	if !errors.Is(err, herald.ErrOutcomeUnknown) {
		t.Fatalf("done = %v, want ErrOutcomeUnknown", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("answered after %v, publish timeout 100ms", el)
	}
	start = time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("Close took %v", el)
	}
}

func TestPublishTimeout(t *testing.T) {
	p, _ := openHeld(t, publisher.WithPublishTimeout(100*time.Millisecond))
	start := time.Now()
	err := p.Publish(context.Background(), "t", herald.NewMessage([]byte("x")))
	if !errors.Is(err, herald.ErrOutcomeUnknown) {
		t.Fatalf("Publish = %v, want ErrOutcomeUnknown", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("Publish returned after %v, timeout 100ms", el)
	}
}

func TestBatchPublishReportsWhichFailed(t *testing.T) {
	p, ht := openHeld(t)
	go func() {
		for i := 0; i < 3; i++ {
			<-ht.took
		}
		ht.answer()
	}()
	err := p.Publish(context.Background(), "t", herald.NewMessage([]byte("ok")), herald.NewMessage([]byte("bad")), herald.NewMessage([]byte("ok")))
	var be *herald.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Publish = %v, want a *herald.BatchError", err)
	}
	if f := be.Failed(); len(f) != 1 || f[0] != 1 {
		t.Fatalf("failed = %v, want [1]", f)
	}
}

// Issue 14 item 11: PublishCorrelationID wrote to the caller's message,
// a data race when one message is published from several goroutines
// (run with -race). The caller's message is never changed.
func TestPublishMiddlewareDoesNotChangeCallersMessage(t *testing.T) {
	p, ht := openHeld(t, publisher.WithMiddleware(middleware.PublishCorrelationID()))
	go func() {
		for range ht.took {
			ht.answer()
		}
	}()
	msg := herald.NewMessage([]byte("x"))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := middleware.ContextWithCorrelationID(context.Background(), fmt.Sprint("c", i))
			if err := p.Publish(ctx, "t", msg); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if v := msg.Metadata.Get(middleware.CorrelationIDHeader); v != "" {
		t.Fatalf("the caller's message got header %q", v)
	}
}
