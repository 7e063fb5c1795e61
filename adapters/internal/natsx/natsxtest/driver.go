// Package natsxtest holds the driver-level checks and the benchmark the
// nats and embedded drivers share: they drive an adapters.Driver
// directly (Topic.Send, Subscription.Open, Stream), without the
// publisher and subscriber packages.
package natsxtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// Fixture opens the sides of a backend.
type Fixture struct {
	// Driver is the driver under test.
	Driver adapters.Driver
	// Config returns the configuration with the URL query options query
	// ("" for none) and group.
	Config func(t testing.TB, group, query string) herald.Config
	// Topic returns a fresh topic.
	Topic func(t testing.TB) string
}

// Env is the environment the checks open with: a logger that discards,
// or with HERALD_TEST_DEBUG=1 writes everything to stderr.
func Env() adapters.Env {
	if os.Getenv("HERALD_TEST_DEBUG") == "1" {
		return adapters.Env{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	}
	return adapters.Env{Logger: slog.New(slog.DiscardHandler)}
}

// OpenTopic opens the publish side; the test's cleanup closes it.
func (f Fixture) OpenTopic(t testing.TB, query string) adapters.Topic {
	t.Helper()
	cfg := f.Config(t, "", query)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tp, err := f.Driver.OpenTopic(ctx, cfg, Env())
	if err != nil {
		t.Fatalf("open topic %s: %v", cfg, err)
	}
	t.Cleanup(func() { _ = tp.Close(context.Background()) })
	return tp
}

// OpenSubscription opens the consume side of group; the test's cleanup
// closes it.
func (f Fixture) OpenSubscription(t testing.TB, group, query string) adapters.Subscription {
	t.Helper()
	cfg := f.Config(t, group, query)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := f.Driver.OpenSubscription(ctx, cfg, Env())
	if err != nil {
		t.Fatalf("open subscription %s: %v", cfg, err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// OpenStream opens a stream of window on topic, reporting its statuses
// to status (nil: ignored); the test's cleanup closes it.
func OpenStream(t testing.TB, s adapters.Subscription, topic string, window int, status func(error)) adapters.Stream {
	t.Helper()
	if status == nil {
		status = func(error) {}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s.Open(ctx, topic, adapters.StreamOptions{Window: window, Status: status})
	if err != nil {
		t.Fatalf("open stream %s: %v", topic, err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	return st
}

// Publish sends msgs to topic, at most 256 awaiting their answer, and
// waits for every answer (within 30s each); it returns the first error.
func Publish(ctx context.Context, tp adapters.Topic, topic string, msgs ...*herald.Message) error {
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	window := make(chan struct{}, 256)
	for _, m := range msgs {
		window <- struct{}{}
		wg.Add(1)
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := tp.Send(sctx, topic, m, adapters.SendOptions{}, func(err error) {
			cancel()
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
			<-window
			wg.Done()
		})
		if err != nil {
			cancel()
			wg.Done()
			<-window
			wg.Wait()
			return err
		}
	}
	wg.Wait()
	return first
}

// MustPublish is Publish, failing the test on an error.
func MustPublish(t testing.TB, tp adapters.Topic, topic string, msgs ...*herald.Message) {
	t.Helper()
	if err := Publish(context.Background(), tp, topic, msgs...); err != nil {
		t.Fatalf("publish to %s: %v", topic, err)
	}
}

// Numbered returns n messages whose payloads are "0".."n-1".
func Numbered(n int) []*herald.Message {
	out := make([]*herald.Message, n)
	for i := range out {
		out[i] = herald.NewMessage([]byte(strconv.Itoa(i)))
	}
	return out
}

// Number is the number in d's payload.
func Number(t testing.TB, d adapters.Received) int {
	t.Helper()
	n, err := strconv.Atoi(string(d.Msg.Payload))
	if err != nil {
		t.Fatalf("payload %q is not a number", d.Msg.Payload)
	}
	return n
}

// ReceiveN receives n deliveries within wait, without settling them.
func ReceiveN(t testing.TB, st adapters.Stream, n int, wait time.Duration) []adapters.Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var got []adapters.Received
	buf := make([]adapters.Received, 16)
	for len(got) < n {
		k, err := st.Receive(ctx, buf[:min(len(buf), n-len(got))])
		if err != nil {
			t.Fatalf("received %d of %d deliveries: %v", len(got), n, err)
		}
		got = append(got, buf[:k]...)
	}
	return got
}

// NoDelivery fails if st hands out a delivery within d.
func NoDelivery(t testing.TB, st adapters.Stream, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	buf := make([]adapters.Received, 4)
	n, err := st.Receive(ctx, buf)
	if n > 0 {
		t.Fatalf("unexpected delivery %q", buf[0].Msg.Payload)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Receive: %v, want the context's deadline", err)
	}
}

// StatusLog records what a stream reports through StreamOptions.Status.
type StatusLog struct {
	ch chan error
}

// NewStatusLog returns an empty log.
func NewStatusLog() *StatusLog { return &StatusLog{ch: make(chan error, 1024)} }

// Report is the StreamOptions.Status function.
func (l *StatusLog) Report(err error) {
	select {
	case l.ch <- err:
	default:
	}
}

// C returns the reports as they come.
func (l *StatusLog) C() <-chan error { return l.ch }

// Next returns the next report, failing after wait.
func (l *StatusLog) Next(t testing.TB, wait time.Duration) error {
	t.Helper()
	select {
	case err := <-l.ch:
		return err
	case <-time.After(wait):
		t.Fatalf("no status report within %v", wait)
		return nil
	}
}

// Recovered waits for a nil report, failing after wait or on a report
// that is neither nil nor a lost subscription.
func (l *StatusLog) Recovered(t testing.TB, wait time.Duration) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		err := l.Next(t, time.Until(deadline))
		if err == nil {
			return
		}
		if !errors.Is(err, herald.ErrSubscriptionLost) {
			t.Fatalf("status %v, want a lost subscription or nil", err)
		}
	}
}

// String lists what is left in the log (for failure messages).
func (l *StatusLog) String() string {
	var out []string
	for {
		select {
		case err := <-l.ch:
			out = append(out, fmt.Sprint(err))
		default:
			return fmt.Sprint(out)
		}
	}
}
