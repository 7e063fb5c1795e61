package publisher_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/publisher"
)

// slowPub is a backend publisher that honours ctx (adapters.ContextPublisher)
// and holds every publish until release is closed.
type slowPub struct {
	release chan struct{}
	calls   chan context.Context
	ignore  bool // ignore ctx: wait for release only
}

func (p *slowPub) Publish(topic string, msgs ...*message.Message) error {
	return p.PublishContext(context.Background(), topic, msgs...)
}

func (p *slowPub) PublishContext(ctx context.Context, _ string, _ ...*message.Message) error {
	p.calls <- ctx
	if p.ignore {
		<-p.release
		return nil
	}
	select {
	case <-p.release:
		return nil
	case <-ctx.Done():
		return errors.Join(herald.ErrUnreachable, ctx.Err())
	}
}

func (p *slowPub) Close() error { return nil }

type slowAdapter struct{}

var (
	slowMu sync.Mutex
	slows  = map[string]*slowPub{}
)

func (slowAdapter) Publisher(_ context.Context, cfg herald.Config) (message.Publisher, error) {
	slowMu.Lock()
	defer slowMu.Unlock()
	return slows[cfg.Hosts[0]], nil
}

func (slowAdapter) Subscriber(context.Context, herald.Config) (message.Subscriber, error) {
	return nil, herald.ErrClosed
}

func init() { adapters.Register("slow-test", slowAdapter{}) }

func openSlow(t *testing.T, p *slowPub, opts ...publisher.Option) *publisher.Publisher {
	t.Helper()
	slowMu.Lock()
	slows[t.Name()] = p
	slowMu.Unlock()
	pub, err := publisher.Open(context.Background(), "slow-test://"+t.Name(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func newSlow() *slowPub {
	return &slowPub{release: make(chan struct{}), calls: make(chan context.Context, 1000)}
}

type key struct{}

// Publish passes its ctx to the backend without changing the message and
// without a goroutine per call.
func TestPublishPassesContextWithoutGoroutines(t *testing.T) {
	p := newSlow()
	pub := openSlow(t, p)
	defer pub.Close()
	msg := herald.NewMessage(nil)
	before := msg.Context()
	const n = 50
	base := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
			defer cancel()
			if err := pub.Publish(ctx, "t", msg); err != nil {
				t.Error(err)
			}
		}()
	}
	for i := 0; i < n; i++ {
		ctx := <-p.calls
		if ctx.Value(key{}) != "v" {
			t.Fatal("the backend did not get the caller's ctx")
		}
	}
	if extra := runtime.NumGoroutine() - base; extra > n+5 {
		t.Errorf("%d publishes in flight run %d goroutines; want about one each (no goroutine per Publish)", n, extra)
	}
	close(p.release)
	wg.Wait()
	if msg.Context() != before {
		t.Error("Publish changed the caller's message context")
	}
}

// A ctx without deadline gets the publish timeout.
func TestPublishTimeout(t *testing.T) {
	pub := openSlow(t, newSlow(), publisher.WithPublishTimeout(100*time.Millisecond))
	defer pub.Close()
	start := time.Now()
	err := pub.Publish(context.Background(), "orders", herald.NewMessage(nil))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, herald.ErrUnreachable) {
		t.Fatalf("Publish = %v; want DeadlineExceeded and ErrUnreachable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Publish took %v with a 100ms publish timeout", d)
	}
	if want := `herald/slow-test: publish to "orders": `; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Errorf("error %q; want it to start with %q", err, want)
	}
}

// Shutdown is bounded by its ctx even when a publish ignores its own.
func TestPublisherShutdownBounded(t *testing.T) {
	p := newSlow()
	p.ignore = true
	defer close(p.release)
	pub := openSlow(t, p)
	go pub.Publish(context.Background(), "t", herald.NewMessage(nil))
	<-p.calls
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- pub.Shutdown(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v; want DeadlineExceeded", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown ignored its ctx")
	}
	if err := pub.Publish(context.Background(), "orders", herald.NewMessage(nil)); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Publish after Shutdown = %v; want ErrClosed", err)
	}
}

func registerAsync() { adapters.Register("async-test", asyncAdapter{}) }
