package subscriber_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/subscriber"
)

func nop(context.Context, *herald.Message) error { return nil }

// blockingSubscribe is a backend whose Subscribe waits for its ctx, like
// an adapter waiting for a broker that does not answer.
func blockingSubscribe(entered chan<- struct{}) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	}
}

func TestSubscribeHonoursContextWhileSubscribing(t *testing.T) {
	f := newFake()
	f.subscribe = blockingSubscribe(nil)
	sub, err := subscriber.Open(context.Background(), useFake(t, f))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sub.Subscribe(ctx, "t", nop) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Subscribe whose ctx ended while subscribing = %v; want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Subscribe ignored its ctx while the backend subscription was being made")
	}
}

func TestCloseInterruptsSubscribing(t *testing.T) {
	f := newFake()
	entered := make(chan struct{}, 1)
	f.subscribe = blockingSubscribe(entered)
	sub, err := subscriber.Open(context.Background(), useFake(t, f))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sub.Subscribe(context.Background(), "t", nop) }()
	<-entered
	closed := make(chan error, 1)
	go func() { closed <- sub.Close() }()
	select {
	case err := <-done:
		if !errors.Is(err, herald.ErrClosed) {
			t.Fatalf("Subscribe interrupted by Close = %v; want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not interrupt a Subscribe waiting for the backend")
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked behind a Subscribe waiting for the backend")
	}
}

// The handler's return value settles the message, whatever the handler
// did by hand; the contradiction is logged.
func TestReturnValueSettles(t *testing.T) {
	logs := captureDefault(t)
	f := newFake()
	sub, ready := openFake(t, f)
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sub.Subscribe(ctx, "t", func(_ context.Context, m *herald.Message) error {
		if string(m.Payload) == "ack-then-fail" {
			m.Ack()
			return errors.New("failed after acking")
		}
		m.Nack()
		return nil
	})
	<-ready
	failed, succeeded := herald.NewMessage([]byte("ack-then-fail")), herald.NewMessage([]byte("nack-then-succeed"))
	f.send(t, failed)
	f.send(t, succeeded)
	for _, s := range f.waitSettled(t, 2) {
		if want := s.id == succeeded.UUID; s.ack != want {
			t.Errorf("message %s: acked=%v; want %v (the handler's return value decides)", s.id, s.ack, want)
		}
	}
	if !logs.has(slog.LevelWarn, "by hand") {
		t.Error("no warning about the handler settling by hand")
	}
}

// Failed messages are nacked with a delay that grows with their
// failures, longer for permanent errors, which are logged and hooked.
func TestFailedMessageDelayGrows(t *testing.T) {
	logs := captureDefault(t)
	f := newFake()
	var hooked []error
	var mu sync.Mutex
	sub, ready := openFake(t, f, subscriber.WithErrorHook(func(err error) { mu.Lock(); hooked = append(hooked, err); mu.Unlock() }))
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sub.Subscribe(ctx, "t", func(_ context.Context, m *herald.Message) error {
		if string(m.Payload) == "poison" {
			return herald.Permanent(errors.New("does not decode"))
		}
		return errors.New("downstream unavailable")
	})
	<-ready
	for i := 0; i < 3; i++ { // the same message, redelivered
		m := herald.NewMessage([]byte("poison"))
		m.UUID = "poison-1"
		f.send(t, m)
	}
	for i := 0; i < 2; i++ {
		m := herald.NewMessage([]byte("flaky"))
		m.UUID = "flaky-1"
		f.send(t, m)
	}
	s := f.waitSettled(t, 5)
	var poison, flaky []time.Duration
	for _, x := range s {
		if x.ack {
			t.Fatalf("a failed message was acked: %+v", x)
		}
		if x.id == "poison-1" {
			poison = append(poison, x.delay)
		} else {
			flaky = append(flaky, x.delay)
		}
	}
	slices.Sort(poison)
	slices.Sort(flaky)
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; !equal(poison, want) {
		t.Errorf("permanent error nack delays %v; want %v", poison, want)
	}
	if want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}; !equal(flaky, want) {
		t.Errorf("retryable error nack delays %v; want %v", flaky, want)
	}
	if !logs.has(slog.LevelError, "permanent error") {
		t.Error("a permanent error with nothing to park the message was not logged at error level")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hooked) != 3 || !errors.Is(hooked[0], herald.ErrPermanent) {
		t.Errorf("error hook got %v; want the 3 permanent errors", hooked)
	}
}

func equal(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A handler that outlives the drain is detached: once Close returned,
// its late result settles nothing on the closed backend.
func TestDrainDetachesLateHandlers(t *testing.T) {
	logs := captureDefault(t)
	f := newFake()
	hooked := make(chan error, 4)
	sub, ready := openFake(t, f, subscriber.WithDrainTimeout(50*time.Millisecond), subscriber.WithErrorHook(func(err error) { hooked <- err }))
	started, release, returned := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go sub.Subscribe(context.Background(), "t", func(ctx context.Context, m *herald.Message) error {
		close(started)
		<-release // ignores cancellation
		defer close(returned)
		return nil
	})
	<-ready
	f.send(t, herald.NewMessage(nil))
	<-started
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-hooked:
		if !errors.Is(err, herald.ErrDrainTimeout) {
			t.Fatalf("hook got %v; want ErrDrainTimeout", err)
		}
	default:
		t.Fatal("Close returned without reporting the detached handler to the error hook")
	}
	if !logs.has(slog.LevelError, "detached") {
		t.Error("the detached handler was not logged at error level")
	}
	close(release)
	<-returned
	// Nothing to wait on: a settlement would come right after the return.
	time.Sleep(100 * time.Millisecond)
	if s := f.settlements(); len(s) != 0 {
		t.Fatalf("a handler detached by the drain settled its message on the closed backend: %+v", s)
	}
}

// A subscription the backend reports broken is logged, hooked and shown
// by Health; one broken longer than the recovery timeout ends Subscribe
// with ErrSubscriptionLost.
func TestBrokenSubscriptionIsVisibleAndGivenUp(t *testing.T) {
	logs := captureDefault(t)
	f := newFake()
	hooked := make(chan error, 8)
	sub, ready := openFake(t, f, subscriber.WithRecoveryTimeout(300*time.Millisecond), subscriber.WithErrorHook(func(err error) { hooked <- err }))
	defer sub.Close()
	done := make(chan error, 1)
	go func() { done <- sub.Subscribe(context.Background(), "t", nop) }()
	<-ready
	if err := sub.Health(); err != nil {
		t.Fatalf("Health of a receiving subscription = %v", err)
	}
	ctx := f.firstCtx()

	// A short outage: reported, then recovered.
	adapters.ReportStatus(ctx, errors.New("connection reset"))
	if err := sub.Health(); !errors.Is(err, herald.ErrSubscriptionLost) {
		t.Fatalf("Health during an outage = %v; want ErrSubscriptionLost", err)
	}
	if err := <-hooked; !errors.Is(err, herald.ErrSubscriptionLost) {
		t.Fatalf("hook got %v; want ErrSubscriptionLost", err)
	}
	adapters.ReportStatus(ctx, nil)
	if err := sub.Health(); err != nil {
		t.Fatalf("Health after recovery = %v", err)
	}
	if !logs.has(slog.LevelWarn, "subscription broken") {
		t.Error("an outage was not logged at warn level with no logger configured")
	}

	// An outage that lasts.
	adapters.ReportStatus(ctx, errors.New("NOT_FOUND - no queue 'q'"))
	select {
	case err := <-done:
		if !errors.Is(err, herald.ErrSubscriptionLost) {
			t.Fatalf("Subscribe = %v; want ErrSubscriptionLost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a subscription broken beyond the recovery timeout did not end Subscribe")
	}
	if !logs.has(slog.LevelError, "given up") {
		t.Error("giving up was not logged at error level")
	}
}

// With no logger configured, a handler panic is logged through
// slog.Default().
func TestPanicVisibleWithoutLogger(t *testing.T) {
	logs := captureDefault(t)
	f := newFake()
	sub, ready := openFake(t, f)
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sub.Subscribe(ctx, "t", func(context.Context, *herald.Message) error { panic("boom") })
	<-ready
	f.send(t, herald.NewMessage(nil))
	if s := f.waitSettled(t, 1); s[0].ack {
		t.Fatal("a message whose handler panicked was acked")
	}
	if !logs.has(slog.LevelError, "panicked") {
		t.Error("a handler panic was not logged with no logger configured")
	}
}

// Shutdown is bounded by its ctx even when the drain timeout is long.
func TestShutdownBoundedByContext(t *testing.T) {
	f := newFake()
	sub, ready := openFake(t, f, subscriber.WithLogger(slog.New(slog.DiscardHandler)))
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	go sub.Subscribe(context.Background(), "t", func(context.Context, *herald.Message) error {
		close(started)
		<-release
		return nil
	})
	<-ready
	f.send(t, herald.NewMessage(nil))
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sub.Shutdown(ctx) }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v; want nil or DeadlineExceeded", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown ignored its ctx (the drain timeout is 30s)")
	}
	if err := sub.Subscribe(context.Background(), "t", nop); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Subscribe after Shutdown = %v; want ErrClosed", err)
	}
	if err := sub.Prepare(context.Background(), "t"); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Prepare after Shutdown = %v; want ErrClosed", err)
	}
}

// openFake opens a subscriber on f; ready receives each Subscribe's topic
// once its subscription is made.
func openFake(t *testing.T, f *fake, opts ...subscriber.Option) (*subscriber.Subscriber, <-chan string) {
	t.Helper()
	ready := make(chan string, 1)
	sub, err := subscriber.Open(context.Background(), useFake(t, f), append(opts, subscriber.WithReady(func(s string) { ready <- s }))...)
	if err != nil {
		t.Fatal(err)
	}
	return sub, ready
}
