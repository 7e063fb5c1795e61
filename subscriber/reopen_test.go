package subscriber_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/subscriber"
)

// flappy is a driver whose streams open fine and break at once (a
// consumer the broker keeps cancelling, a group session that keeps
// expiring): Receive returns a non-closed error on its first call.
type flappy struct{ opens atomic.Int32 }

func (f *flappy) Validate(herald.Config) error { return nil }
func (f *flappy) Capabilities(herald.Config) adapters.Capabilities {
	return adapters.Capabilities{Redelivery: adapters.RedeliverBroker, DefaultWindow: 8}
}
func (f *flappy) OpenTopic(context.Context, herald.Config, adapters.Env) (adapters.Topic, error) {
	return nil, errors.New("no topic")
}
func (f *flappy) OpenRequester(context.Context, herald.Config, adapters.Env) (adapters.Requester, error) {
	return nil, errors.New("no requester")
}

func (f *flappy) OpenSubscription(context.Context, herald.Config, adapters.Env) (adapters.Subscription, error) {
	return flappySub{f}, nil
}

type flappySub struct{ f *flappy }

func (s flappySub) Prepare(context.Context, string) error { return nil }
func (s flappySub) Open(context.Context, string, adapters.StreamOptions) (adapters.Stream, error) {
	s.f.opens.Add(1)
	return flappyStream{}, nil
}
func (s flappySub) Close(context.Context) error { return nil }
func (s flappySub) As(any) bool                 { return false }

type flappyStream struct{}

func (flappyStream) Receive(ctx context.Context, _ []adapters.Received) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return 0, &herald.Error{Backend: "flappy", Op: "subscribe to", Kind: herald.KindOther, Err: errors.New("consumer cancelled by the broker")}
}
func (flappyStream) Ack(adapters.Token)                 {}
func (flappyStream) Nack(adapters.Token, time.Duration) {}
func (flappyStream) Valid(adapters.Token) bool          { return false }
func (flappyStream) Close(context.Context) error        { return nil }

var flappyDriver = &flappy{}

func init() { adapters.Register("flappy", flappyDriver) }

type levelCounter struct{ warns atomic.Int32 }

func (c *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *levelCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		c.warns.Add(1)
	}
	return nil
}
func (c *levelCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *levelCounter) WithGroup(string) slog.Handler      { return c }

// A stream that opens and breaks at once, again and again, is one outage:
// the reopening backs off (it must not reopen ten times a second for
// ever), it is logged once, not at every turn, and the recovery timeout
// gives up on it.
func TestFlappingStreamBacksOffAndGivesUp(t *testing.T) {
	logs := &levelCounter{}
	sub, err := subscriber.Open(context.Background(), "flappy://x", subscriber.WithLogger(slog.New(logs)),
		subscriber.WithRecoveryTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	start := time.Now()
	err = sub.Subscribe(ctx, "t", func(context.Context, *herald.Message) error { return nil })
	took := time.Since(start)
	opens := flappyDriver.opens.Load()
	t.Logf("Subscribe returned after %v: %v; %d opens, %d warnings", took.Round(time.Millisecond), err, opens, logs.warns.Load())
	if !errors.Is(err, herald.ErrSubscriptionLost) {
		t.Errorf("Subscribe = %v after %v, want ErrSubscriptionLost after the 2s recovery timeout", err, took.Round(time.Millisecond))
	}
	if opens > 12 {
		t.Errorf("%d opens in %v: the reopening does not back off", opens, took.Round(time.Millisecond))
	}
	if w := logs.warns.Load(); w > 3 {
		t.Errorf("%d warnings for one outage", w)
	}
}
