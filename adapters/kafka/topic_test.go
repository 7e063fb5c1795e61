package kafka

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/tcpproxy"
)

// TestSendOutcome (issue 14, item 12): a record that was never written
// fails at its deadline with KindUnreachable ("not stored"); one that was
// written and never answered fails at its deadline, not later, with
// KindOutcomeUnknown ("maybe stored"); the two are told apart, and each
// done is called once.
func TestSendOutcome(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	for _, tc := range []struct {
		name string
		// warm does what comes before the cut: with produce, a record
		// was sent (the produce connection is open); without, only the
		// topic is known.
		produce bool
		cut     func(p *tcpproxy.Proxy)
		want    herald.Kind // KindOther: either, as the requests written say
	}{
		// No produce connection yet, then no listener: every dial is
		// refused, nothing is ever written.
		{"refused", false, (*tcpproxy.Proxy).Close, herald.KindUnreachable},
		// The open connections stay open and swallow the requests:
		// written, no answer.
		{"blackholed", true, (*tcpproxy.Proxy).Blackhole, herald.KindOutcomeUnknown},
		// The open connections are closed under the producer, new ones
		// refused: a request written into a connection that just died
		// may or may not have reached the broker.
		{"connection lost", true, (*tcpproxy.Proxy).Close, herald.KindOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, dial := proxied(t, target)
			tp := openTopic(t, target, dial)
			name := uniqueName("outcome")
			if tc.produce {
				sendSync(t, tp, name, herald.NewMessage([]byte("warm-up")))
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				if err := tp.ensure(ctx, name); err != nil {
					t.Fatal(err)
				}
				cancel()
			}
			tc.cut(p)
			writes := tp.writes.n.Load()
			const d = 2 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			start := time.Now()
			const n = 5
			var mu sync.Mutex
			calls := map[int]int{}
			errs := make(chan error, n)
			for i := range n {
				err := tp.Send(ctx, name, herald.NewMessage([]byte("x")), adapters.SendOptions{}, func(err error) {
					mu.Lock()
					calls[i]++
					mu.Unlock()
					errs <- err
				})
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
			}
			for range n {
				err := <-errs
				want := tc.want
				if want == herald.KindOther {
					want = herald.KindUnreachable
					if tp.writes.n.Load() != writes {
						want = herald.KindOutcomeUnknown
					}
				}
				if got := herald.KindOf(err); got != want {
					t.Errorf("done: %v (kind %v); want kind %v (produce requests written since the cut: %d)", err, got, want, tp.writes.n.Load()-writes)
				}
				if !errors.Is(err, want.Sentinel()) || !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("done: %v; want it to wrap %v and context.DeadlineExceeded", err, want.Sentinel())
				}
				if !strings.Contains(err.Error(), `herald/kafka: publish to "`+name+`"`) {
					t.Errorf("done: %q does not name the backend, the operation and the topic", err)
				}
			}
			if took := time.Since(start); took < d-100*time.Millisecond || took > d+time.Second {
				t.Errorf("dones came %v after Send; want about the %v deadline", took, d)
			}
			t.Logf("produce requests written since the cut: %d", tp.writes.n.Load()-writes)
			// Close gives up at once on what is left, without calling
			// any done again.
			cctx, ccancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer ccancel()
			_ = tp.Close(cctx)
			mu.Lock()
			defer mu.Unlock()
			for i := range n {
				if calls[i] != 1 {
					t.Errorf("done %d called %d times", i, calls[i])
				}
			}
		})
	}
}

// TestSendTopicUnknownHonoursDeadline (issue 14, item 4): the first Send
// to a topic (which the driver creates, and whose metadata franz-go must
// load) while the brokers cannot be reached returns within its ctx.
func TestSendTopicUnknownHonoursDeadline(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	p, dial := proxied(t, target)
	tp := openTopic(t, target, dial)
	p.Blackhole()
	const d = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	err := sendOne(ctx, tp, uniqueName("unknown"), herald.NewMessage([]byte("x")))
	if took := time.Since(start); took > d+time.Second {
		t.Errorf("Send to a new topic returned after %v with a %v deadline", took, d)
	}
	if !errors.Is(err, herald.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send to a new topic, brokers black-holed: %v; want ErrUnreachable and DeadlineExceeded", err)
	}
}

// TestSendErrors: what the driver refuses at once, and what the broker
// refuses, are typed.
func TestSendErrors(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	tp := openTopic(t, withQuery(target, "max_message_bytes=2048"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := uniqueName("errors")
	sendSync(t, tp, name, herald.NewMessage([]byte("ok")))
	if err := sendOne(ctx, tp, name, herald.NewMessage(make([]byte, 4096))); !errors.Is(err, herald.ErrTooLarge) {
		t.Errorf("a record over max_message_bytes: %v; want ErrTooLarge", err)
	}
	if err := tp.Send(ctx, "bad/name", herald.NewMessage(nil), adapters.SendOptions{}, func(error) { t.Error("done called for a refused Send") }); !errors.Is(err, herald.ErrInvalid) {
		t.Errorf("a bad topic name: %v; want ErrInvalid", err)
	}
	cancelled, c := context.WithCancel(ctx)
	c()
	if err := tp.Send(cancelled, name, herald.NewMessage(nil), adapters.SendOptions{}, func(error) { t.Error("done called for a refused Send") }); !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a cancelled ctx: %v; want context.Canceled", err)
	}
	if err := tp.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := tp.Send(ctx, name, herald.NewMessage(nil), adapters.SendOptions{}, func(error) { t.Error("done called for a refused Send") }); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Send after Close: %v; want ErrClosed", err)
	}
	if err := tp.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// produceCounter counts the produce requests a client writes.
type produceCounter struct {
	mu sync.Mutex
	n  int
}

func (c *produceCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 0 && err == nil { // 0: Produce
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
}

func (c *produceCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestSendPipelines: concurrent sends share produce requests (a driver
// that waited for each record's round trip before sending the next would
// write one request per record), each done is nil once its own record
// was acknowledged, and records of one key keep their order.
func TestSendPipelines(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	counter := &produceCounter{}
	tp := openTopic(t, target, func(s *settings) { s.extra = []kgo.Opt{kgo.WithHooks(counter)} })
	name := uniqueName("pipeline")
	sendSync(t, tp, name, herald.NewMessage([]byte("warm-up")))
	const n = 256
	before := counter.count()
	msgs := newMessages(n, "p")
	for _, m := range msgs {
		herald.SetKey(m, "one-key")
	}
	sendSync(t, tp, name, msgs...)
	requests := counter.count() - before
	t.Logf("%d sends: %d produce requests", n, requests)
	if requests > n/4 {
		t.Errorf("%d sends wrote %d produce requests; want them to share requests (at most %d)", n, requests, n/4)
	}
	sub := openSubscription(t, withQuery(target, "start=oldest"))
	st := openStream(t, sub, name, n+1, nil)
	var keyed []adapters.Received
	for _, r := range receiveN(t, st, n+1, 30*time.Second) {
		if r.Key != "" {
			keyed = append(keyed, r)
		}
	}
	for i, r := range keyed {
		if r.Msg.UUID != msgs[i].UUID || r.Key != "one-key" {
			t.Fatalf("delivery %d: %q key %q; want %q in publish order", i, r.Msg.Payload, r.Key, msgs[i].Payload)
		}
	}
}
