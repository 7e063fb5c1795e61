package publisher_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
)

// asyncPub is a pipelined backend: PublishAsync queues the message; the
// test answers with answer(). Messages whose payload is "bad" fail.
type asyncPub struct {
	slowPub
	mu      sync.Mutex
	waiting []func(error)
	bad     []bool
	took    chan struct{}
}

func newAsync() *asyncPub {
	return &asyncPub{slowPub: *newSlow(), took: make(chan struct{}, 100000)}
}

func (p *asyncPub) PublishAsync(_ context.Context, _ string, m *message.Message, done func(error)) error {
	p.mu.Lock()
	p.waiting = append(p.waiting, done)
	p.bad = append(p.bad, string(m.Payload) == "bad")
	p.mu.Unlock()
	p.took <- struct{}{}
	return nil
}

// answer answers every message taken so far, failing the bad ones.
func (p *asyncPub) answer() int {
	p.mu.Lock()
	w, bad := p.waiting, p.bad
	p.waiting, p.bad = nil, nil
	p.mu.Unlock()
	for i, done := range w {
		if bad[i] {
			done(errors.New("broker refused it"))
		} else {
			done(nil)
		}
	}
	return len(w)
}

func openAsync(t *testing.T, p *asyncPub, opts ...publisher.Option) *publisher.Publisher {
	t.Helper()
	slowMu.Lock()
	asyncs[t.Name()] = p
	slowMu.Unlock()
	pub, err := publisher.Open(context.Background(), "async-test://"+t.Name(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

var asyncs = map[string]*asyncPub{}

type asyncAdapter struct{ slowAdapter }

func (asyncAdapter) Publisher(_ context.Context, cfg herald.Config) (message.Publisher, error) {
	slowMu.Lock()
	defer slowMu.Unlock()
	return asyncs[cfg.Hosts[0]], nil
}

func init() { registerAsync() }

// PublishAsync keeps at most the window unanswered, calls done once per
// message with its own result, and Flush waits for all.
func TestPublishAsyncWindowAndFlush(t *testing.T) {
	p := newAsync()
	pub := openAsync(t, p, publisher.WithAsyncWindow(4))
	defer pub.Close()
	var mu sync.Mutex
	results := map[string]error{}
	calls := 0
	done := func(m *herald.Message, err error) {
		mu.Lock()
		results[string(m.Payload)] = err
		calls++
		mu.Unlock()
	}
	for i := 0; i < 4; i++ {
		payload := fmt.Sprint(i)
		if i == 2 {
			payload = "bad"
		}
		if err := pub.PublishAsync(context.Background(), "t", herald.NewMessage([]byte(payload)), done); err != nil {
			t.Fatal(err)
		}
	}
	// The window is full: the fifth waits, here until its ctx ends.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := pub.PublishAsync(ctx, "t", herald.NewMessage([]byte("late")), done); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PublishAsync with a full window = %v; want DeadlineExceeded", err)
	}
	fctx, fcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer fcancel()
	if err := pub.Flush(fctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush with 4 unanswered = %v; want DeadlineExceeded", err)
	}
	if n := p.answer(); n != 4 {
		t.Fatalf("the backend took %d messages; want 4", n)
	}
	if err := pub.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 4 || results["0"] != nil || results["bad"] == nil {
		t.Fatalf("done called %d times with %v; want 4 calls, only \"bad\" failed", calls, results)
	}
	if _, ok := results["late"]; ok {
		t.Error("done was called for a message PublishAsync refused")
	}
}

// Publish of several messages goes through the pipelined path and says
// which failed.
func TestBatchPublishReportsWhichFailed(t *testing.T) {
	p := newAsync()
	pub := openAsync(t, p)
	defer pub.Close()
	msgs := []*herald.Message{herald.NewMessage([]byte("ok")), herald.NewMessage([]byte("bad")), herald.NewMessage([]byte("ok"))}
	res := make(chan error, 1)
	go func() { res <- pub.Publish(context.Background(), "orders", msgs...) }()
	for i := 0; i < 3; i++ {
		<-p.took
	}
	p.answer()
	err := <-res
	var be *herald.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Publish = %v; want a *herald.BatchError", err)
	}
	if f := be.Failed(); len(f) != 1 || f[0] != 1 {
		t.Errorf("failed indexes %v; want [1]", f)
	}
	if want := `herald/async-test: publish to "orders": 1 of 3 messages not published; message 1: broker refused it`; err.Error() != want {
		t.Errorf("error %q; want %q", err, want)
	}
}
