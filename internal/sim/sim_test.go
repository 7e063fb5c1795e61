package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

var env = adapters.Env{Logger: slog.New(slog.DiscardHandler)}

// open adds b to a new driver and opens a topic and a subscription of
// group g on it.
func open(t *testing.T, b *Broker, g string) (adapters.Topic, adapters.Subscription) {
	t.Helper()
	d := NewDriver()
	cfg := d.Add(b)
	cfg.Group = g
	if err := d.Validate(cfg); err != nil {
		t.Fatal(err)
	}
	tp, err := d.OpenTopic(t.Context(), cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := d.OpenSubscription(t.Context(), cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	return tp, sub
}

func msg(id, key string) *herald.Message {
	m := herald.NewMessage([]byte(id))
	m.UUID = id
	if key != "" {
		herald.SetKey(m, key)
	}
	return m
}

func noViolations(t *testing.T, b *Broker) {
	t.Helper()
	if v := b.Trace().Violations(); len(v) > 0 {
		t.Fatalf("violations: %v\n%s", v, b.Trace().Format(nil, 200))
	}
}

func TestValidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := NewDriver()
		b := New(1, Plan{})
		cfg := d.Add(b)
		if err := d.Validate(cfg); err != nil {
			t.Fatalf("valid config refused: %v", err)
		}
		cfg.Options = herald.Options{"prefetch": "3"}
		if err := d.Validate(cfg); err != nil {
			t.Fatalf("prefetch refused: %v", err)
		}
		var ce *herald.ConfigError
		cfg.Options = herald.Options{"nak_delay": "3s"}
		if err := d.Validate(cfg); !errors.As(err, &ce) || ce.Key != "nak_delay" {
			t.Fatalf("unknown option: got %v, want a ConfigError naming nak_delay", err)
		}
		d.Remove(b)
		if err := d.Validate(d.Add(New(1, Plan{}))); err != nil {
			t.Fatal(err)
		}
		if err := d.Validate(herald.Config{Scheme: Scheme, Hosts: []string{b.Name()}}); !errors.As(err, &ce) || ce.Key != "host" {
			t.Fatalf("removed broker: got %v, want a ConfigError naming host", err)
		}
	})
}

func TestDrawIsDeterministic(t *testing.T) {
	for seed := range uint64(50) {
		if a, b := Draw(seed), Draw(seed); a != b {
			t.Fatalf("seed %d: %v != %v", seed, a, b)
		}
	}
}

// TestSend sends keyed messages under each seed's publish faults and
// checks what the contract promises: done exactly once, same-key order
// in the log, nil means stored, unreachable or closed means not stored,
// and the ctx's deadline bounds each answer.
func TestSend(t *testing.T) {
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { testSend(t, seed) })
		})
	}
}

func testSend(t *testing.T, seed uint64) {
	p := Draw(seed)
	b := New(seed, p)
	defer b.Close()
	tp, _ := open(t, b, "")
	const n = 60
	type answer struct {
		err   error
		calls int
		at    time.Duration
	}
	var mu sync.Mutex
	answers := map[string]*answer{}
	taken := map[string]bool{}
	start := time.Now()
	for i := range n {
		id := fmt.Sprintf("m%02d", i)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		err := tp.Send(ctx, "t", msg(id, fmt.Sprint("k", i%3)), adapters.SendOptions{}, func(err error) {
			mu.Lock()
			defer mu.Unlock()
			a := answers[id]
			if a == nil {
				a = &answer{}
				answers[id] = a
			}
			a.calls++
			a.err, a.at = err, time.Since(start)
		})
		taken[id] = err == nil
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	synctest.Wait()
	if err := tp.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	last := map[string]int{}
	for _, s := range b.Stored("t") {
		stored[s.ID] = s.Pos
		var i int
		fmt.Sscanf(s.ID, "m%d", &i)
		if l, ok := last[s.Key]; ok && i < l {
			t.Errorf("key %s: m%02d stored after m%02d", s.Key, i, l)
		}
		last[s.Key] = i
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		id := fmt.Sprintf("m%02d", i)
		a := answers[id]
		if !taken[id] {
			if a != nil {
				t.Errorf("%s: Send returned an error and done was called", id)
			}
			continue
		}
		if a == nil || a.calls != 1 {
			t.Fatalf("%s: done called %v times", id, a)
		}
		_, ok := stored[id]
		switch k := herald.KindOf(a.err); {
		case a.err == nil && !ok:
			t.Errorf("%s: answered nil, not stored", id)
		case (k == herald.KindUnreachable || k == herald.KindClosed) && ok:
			t.Errorf("%s: answered %v, stored", id, a.err)
		case a.err != nil && k == herald.KindOther:
			t.Errorf("%s: answer without a kind: %v", id, a.err)
		}
		if sent := time.Duration(i) * 10 * time.Millisecond; a.at > sent+time.Second {
			t.Errorf("%s: answered at %v, after its deadline %v", id, a.at, sent+time.Second)
		}
	}
	if err := tp.Send(t.Context(), "t", msg("late", ""), adapters.SendOptions{}, func(error) { t.Error("done called for a refused send") }); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
	noViolations(t, b)
}

// TestCloseFailsUnanswered: Close waits within its ctx for answers, then
// fails what is left (written: outcome unknown).
func TestCloseFailsUnanswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(1, Plan{PBlackhole: 2}) // every send written, never answered
		defer b.Close()
		tp, _ := open(t, b, "")
		var got error
		calls := 0
		if err := tp.Send(context.Background(), "t", msg("a", ""), adapters.SendOptions{}, func(err error) { got = err; calls++ }); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		_ = tp.Close(ctx)
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("Close took %v, want its ctx's 3s", d)
		}
		if calls != 1 || !errors.Is(got, herald.ErrOutcomeUnknown) {
			t.Errorf("done called %d times with %v, want once with ErrOutcomeUnknown", calls, got)
		}
	})
}

// TestOutageWaitsForCtx: a send during an outage is written when the
// connection is back, or fails unreachable when its ctx ends first.
func TestOutageWaitsForCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(1, Plan{})
		defer b.Close()
		tp, _ := open(t, b, "")
		c := tp.(*conn)
		b.mu.Lock()
		c.down = true
		b.mu.Unlock()
		var short, long error
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = tp.Send(ctx, "t", msg("short", ""), adapters.SendOptions{}, func(err error) { short = err })
		_ = tp.Send(context.Background(), "t", msg("long", ""), adapters.SendOptions{}, func(err error) { long = err })
		time.Sleep(time.Second)
		synctest.Wait()
		if !errors.Is(short, herald.ErrUnreachable) {
			t.Errorf("short: %v, want ErrUnreachable at its deadline", short)
		}
		b.mu.Lock()
		c.reconnect()
		b.mu.Unlock()
		synctest.Wait()
		if long != nil || len(b.Stored("t")) != 1 {
			t.Errorf("long: %v, stored %v; want nil and stored", long, b.Stored("t"))
		}
	})
}

func receive(t *testing.T, st adapters.Stream, n int) []adapters.Received {
	t.Helper()
	buf := make([]adapters.Received, n)
	k, err := st.Receive(t.Context(), buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:k]
}

// TestWindow: Receive blocks while Window deliveries are unsettled; an
// ack frees a slot; Close returns the rest for redelivery.
func TestWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(1, Plan{Caps: adapters.Capabilities{Order: adapters.OrderQueue}})
		defer b.Close()
		tp, sub := open(t, b, "g")
		if err := sub.Prepare(t.Context(), "t"); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			_ = tp.Send(t.Context(), "t", msg(fmt.Sprint(i), ""), adapters.SendOptions{}, func(error) {})
		}
		synctest.Wait()
		st, err := sub.Open(t.Context(), "t", adapters.StreamOptions{Window: 2, Status: func(error) {}})
		if err != nil {
			t.Fatal(err)
		}
		got := receive(t, st, 10)
		if len(got) != 2 || got[0].Msg.UUID != "0" || got[1].Msg.UUID != "1" {
			t.Fatalf("first Receive: %d deliveries, want 0 and 1", len(got))
		}
		var more []adapters.Received
		done := make(chan struct{})
		go func() { more = receive(t, st, 10); close(done) }()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Receive returned with a full window")
		default:
		}
		st.Ack(got[0].Token)
		<-done
		if len(more) != 1 || more[0].Msg.UUID != "2" {
			t.Fatalf("after an ack: %v, want message 2", more)
		}
		if !st.Valid(got[1].Token) {
			t.Fatal("an unsettled delivery is not valid")
		}
		_ = st.Close(t.Context())
		if st.Valid(got[1].Token) {
			t.Fatal("valid after Close")
		}
		if _, err := st.Receive(t.Context(), make([]adapters.Received, 1)); !errors.Is(err, herald.ErrClosed) {
			t.Fatalf("Receive after Close: %v", err)
		}
		st2, _ := sub.Open(t.Context(), "t", adapters.StreamOptions{Window: 10, Status: func(error) {}})
		got = receive(t, st2, 10)
		if len(got) != 4 || got[0].Msg.UUID != "1" {
			t.Fatalf("after Close: %d deliveries starting %s, want 4 starting with 1", len(got), got[0].Msg.UUID)
		}
		st2.Ack(got[0].Token)
		st2.Ack(got[0].Token)
		if v := b.Trace().Violations(); len(v) != 1 {
			t.Fatalf("a double ack: violations %v, want one", v)
		}
	})
}

// TestNack: the uses of Nack the capabilities forbid are violations; a
// nack with a native delay is redelivered after it.
func TestNack(t *testing.T) {
	for _, c := range []struct {
		name       string
		caps       adapters.Capabilities
		delay      time.Duration
		violations int
		redelivery time.Duration
	}{
		{"local", adapters.Capabilities{Redelivery: adapters.RedeliverLocal}, 0, 1, 0},
		{"broker, no delay", adapters.Capabilities{Redelivery: adapters.RedeliverBroker}, time.Second, 1, 0},
		{"broker", adapters.Capabilities{Redelivery: adapters.RedeliverBroker}, 0, 0, 0},
		{"broker, native delay", adapters.Capabilities{Redelivery: adapters.RedeliverBroker, NackDelay: true}, time.Second, 0, time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := New(1, Plan{Caps: c.caps})
				defer b.Close()
				tp, sub := open(t, b, "g")
				_ = sub.Prepare(t.Context(), "t")
				_ = tp.Send(t.Context(), "t", msg("a", ""), adapters.SendOptions{}, func(error) {})
				synctest.Wait()
				st, _ := sub.Open(t.Context(), "t", adapters.StreamOptions{Window: 1, Status: func(error) {}})
				got := receive(t, st, 1)
				start := time.Now()
				st.Nack(got[0].Token, c.delay)
				if v := b.Trace().Violations(); len(v) != c.violations {
					t.Fatalf("violations %v, want %d", v, c.violations)
				}
				again := receive(t, st, 1)
				if d := time.Since(start); d != c.redelivery || again[0].Msg.UUID != "a" {
					t.Fatalf("redelivered %s after %v, want a after %v", again[0].Msg.UUID, d, c.redelivery)
				}
			})
		})
	}
}

// TestStatusNotAfterClose: a status outage reports an error then nil,
// and nothing once Close returned.
func TestStatusNotAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := Plan{FaultEvery: time.Second, WStatusOutage: 1, StatusMax: 5 * time.Second}
		b := New(3, p)
		defer b.Close()
		_, sub := open(t, b, "g")
		var mu sync.Mutex
		var got []error
		closed := false
		st, _ := sub.Open(t.Context(), "t", adapters.StreamOptions{Window: 1, Status: func(err error) {
			mu.Lock()
			defer mu.Unlock()
			if closed {
				t.Error("Status called after Close returned")
			}
			got = append(got, err)
		}})
		time.Sleep(30 * time.Second)
		_ = st.Close(t.Context())
		mu.Lock()
		closed = true
		n := len(got)
		mu.Unlock()
		time.Sleep(30 * time.Second)
		if n < 2 || got[0] == nil || !errors.Is(got[0], herald.ErrUnreachable) {
			t.Fatalf("statuses %v, want an outage reported", got)
		}
		for i, err := range got {
			if (i%2 == 0) != (err != nil) {
				t.Fatalf("statuses %v: want error and nil in turn", got)
			}
		}
	})
}

// TestConsume consumes under each seed's stream faults with a consumer
// that reopens broken streams and acks what is valid, and checks the
// trace: everything stored is acked in the end, each key's deliveries
// to a stream follow the log until the stream loses the key, a key's
// unsettled deliveries are on one stream, and nothing is a violation.
func TestConsume(t *testing.T) {
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { testConsume(t, seed) })
		})
	}
}

func testConsume(t *testing.T, seed uint64) {
	p := Draw(seed)
	b := New(seed, p)
	defer b.Close()
	tp, sub := open(t, b, "g")
	_ = sub.Prepare(t.Context(), "t")
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for c := range 2 {
		wg.Go(func() { consumer(ctx, sub, c, p) })
	}
	for i := range 100 {
		_ = tp.Send(context.Background(), "t", msg(fmt.Sprintf("m%03d", i), fmt.Sprint("k", i%4)), adapters.SendOptions{}, func(error) {})
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(10 * time.Second)
	b.Calm()
	wctx, wcancel := context.WithTimeout(ctx, time.Hour)
	defer wcancel()
	if err := b.WaitSettled(wctx, "t", "g"); err != nil {
		t.Fatalf("unacked after an hour of calm: %v\n%s", b.Unacked("t", "g"), b.Trace().Format(nil, 100))
	}
	cancel()
	wg.Wait()
	_ = sub.Close(context.Background())
	cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
	defer ccancel()
	_ = tp.Close(cctx) // the black-holed sends wait for it
	noViolations(t, b)
	if p.Caps.Order == adapters.OrderKey {
		checkKeyOrder(t, b)
	}
}

// consumer reads a stream, reopening it when it breaks, and acks (or,
// under RedeliverBroker, sometimes nacks) every valid delivery after a
// while.
func consumer(ctx context.Context, sub adapters.Subscription, c int, p Plan) {
	buf := make([]adapters.Received, 4)
	nacked := map[string]bool{}
	window := 3
	if p.Caps.MaxWindow > 0 {
		window = min(window, p.Caps.MaxWindow)
	}
	for ctx.Err() == nil {
		st, err := sub.Open(ctx, "t", adapters.StreamOptions{Window: window, Status: func(error) {}})
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for {
			n, err := st.Receive(ctx, buf)
			if err != nil {
				break
			}
			for i, d := range buf[:n] {
				time.Sleep(time.Duration(i) * time.Millisecond)
				if !st.Valid(d.Token) {
					continue
				}
				if p.Caps.Redelivery == adapters.RedeliverBroker && d.Msg.UUID[len(d.Msg.UUID)-1] == '7' && !nacked[d.Msg.UUID] {
					nacked[d.Msg.UUID] = true
					st.Nack(d.Token, 0)
					continue
				}
				st.Ack(d.Token)
			}
		}
		_ = st.Close(context.Background())
	}
}

// checkKeyOrder replays the trace: per stream and key, deliveries come in
// log order until the stream loses the key (an invalidated delivery of
// it), and no key has valid unsettled deliveries on two streams.
func checkKeyOrder(t *testing.T, b *Broker) {
	t.Helper()
	pos := map[string]int{}
	for _, s := range b.Stored("t") {
		pos[s.ID] = s.Pos
	}
	type sk struct {
		stream int
		key    string
	}
	last := map[sk]int{}
	live := map[uint64]Event{} // unsettled valid deliveries
	for _, e := range b.Trace().Events() {
		switch e.What {
		case Delivered:
			if e.Key == "" {
				continue
			}
			for _, o := range live {
				if o.Key == e.Key && o.Stream != e.Stream {
					t.Fatalf("%v: key %s still unsettled on stream %d (%v)\n%s", e, e.Key, o.Stream, o, b.Trace().Format(nil, 0))
				}
			}
			k := sk{e.Stream, e.Key}
			if l, ok := last[k]; ok && pos[e.Msg] <= l {
				t.Fatalf("%v: delivered after position %d of its key on that stream\n%s", e, l, b.Trace().Format(nil, 0))
			}
			last[k] = pos[e.Msg]
			live[e.Del] = e
		case Invalid:
			delete(last, sk{e.Stream, e.Key})
			delete(live, e.Del)
		case Requeued: // a nack: the redelivery may come after later messages
			delete(last, sk{e.Stream, e.Key})
			delete(live, e.Del)
		case AckApplied:
			delete(live, e.Del)
		}
	}
}
