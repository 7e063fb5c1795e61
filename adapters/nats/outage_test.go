package nats_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
	hnats "github.com/heraldkit/herald/adapters/nats"
)

// warnCounter counts the records at warn level or above.
type warnCounter struct {
	mu    sync.Mutex
	warns []string
}

func (w *warnCounter) Enabled(context.Context, slog.Level) bool { return true }
func (w *warnCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		w.mu.Lock()
		w.warns = append(w.warns, r.Message)
		w.mu.Unlock()
	}
	return nil
}
func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnCounter) WithGroup(string) slog.Handler      { return w }
func (w *warnCounter) count() ([]string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.warns, len(w.warns)
}

// A stream whose server goes away reports it through Status (a lost
// subscription, unreachable) and recovers (nil) when the server is back,
// and receives again; the driver logs no warning (the facade logs the
// outage once). A private server: the shared one is not restarted.
func TestStreamReportsLostAndRecovers(t *testing.T) {
	ps := newPrivateServer(t, serverOptions())
	f := fixture(t, ps.URL(), "reconnect_wait=50ms")
	log := &warnCounter{}
	cfg := f.Config(t, "g", "")
	sub, err := hnats.Driver{}.OpenSubscription(context.Background(), cfg, adapters.Env{Logger: slog.New(log)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close(context.Background()) })
	tp := topic(t)
	status := natsxtest.NewStatusLog()
	st := natsxtest.OpenStream(t, sub, tp, 16, status.Report)
	pub := f.OpenTopic(t, "")
	natsxtest.MustPublish(t, pub, tp, herald.NewMessage([]byte("before")))
	st.Ack(natsxtest.ReceiveN(t, st, 1, 10*time.Second)[0].Token)

	ps.Stop()
	lost := status.Next(t, 10*time.Second)
	if !errors.Is(lost, herald.ErrSubscriptionLost) || !errors.Is(lost, herald.ErrUnreachable) || !strings.Contains(lost.Error(), tp) {
		t.Fatalf("status %v, want a lost subscription, unreachable, naming the topic", lost)
	}
	time.Sleep(time.Second) // ~20 reconnect attempts
	ps.Start()
	status.Recovered(t, 20*time.Second)
	natsxtest.MustPublish(t, pub, tp, herald.NewMessage([]byte("after")))
	if d := natsxtest.ReceiveN(t, st, 1, 20*time.Second)[0]; string(d.Msg.Payload) != "after" {
		t.Errorf("after the outage got %q", d.Msg.Payload)
	}
	if warns, n := log.count(); n != 0 {
		t.Errorf("the driver logged %d warnings: %q", n, warns)
	}
}

// While the server is down, Send waits for it within its context, then
// returns an error (the message is not taken: done is not called):
// unreachable, with the deadline, naming the topic. A server back within
// the deadline makes the next Send succeed. Both modes.
func TestSendWaitsForUnreachableServer(t *testing.T) {
	for _, mode := range []string{"", "mode=core"} {
		t.Run(mode, func(t *testing.T) {
			ps := newPrivateServer(t, serverOptions())
			f := fixture(t, ps.URL(), joinQuery("reconnect_wait=50ms", mode))
			pub := f.OpenTopic(t, "")
			tp := topic(t)
			natsxtest.MustPublish(t, pub, tp, herald.NewMessage([]byte("warm")))
			ps.Stop()
			waitDisconnected(t, pub)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			start := time.Now()
			err := pub.Send(ctx, tp, herald.NewMessage([]byte("down")), adapters.SendOptions{}, func(err error) { t.Errorf("done called (%v) for a message not taken", err) })
			cancel()
			took := time.Since(start)
			if !errors.Is(err, herald.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Send while down: %v, want ErrUnreachable and DeadlineExceeded", err)
			}
			if !strings.HasPrefix(err.Error(), `herald/nats: publish to "`+tp+`"`) {
				t.Errorf("error %q does not name the backend, the operation and the topic", err)
			}
			if took < 250*time.Millisecond || took > 2*time.Second {
				t.Errorf("Send while down returned after %v, want about the 300ms deadline", took)
			}
			restarted := make(chan struct{})
			time.AfterFunc(300*time.Millisecond, func() { ps.Start(); close(restarted) })
			ctx, cancel = context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := natsxtest.Publish(ctx, pub, tp, herald.NewMessage([]byte("back"))); err != nil {
				t.Fatalf("publish while the server comes back: %v", err)
			}
			<-restarted
		})
	}
}

// Item 12: a message written whose answer does not come before its
// deadline fails in done with ErrOutcomeUnknown (the broker may have it),
// never ErrUnreachable; one that could not be written is not taken (Send
// returns ErrUnreachable). A network partition: the connection looks up.
func TestWrittenUnansweredIsOutcomeUnknown(t *testing.T) {
	for _, mode := range []string{"", "mode=core"} {
		t.Run(mode, func(t *testing.T) {
			px, f := proxied(t, mode)
			pub := f.OpenTopic(t, "")
			tp := topic(t)
			natsxtest.MustPublish(t, pub, tp, herald.NewMessage([]byte("warm")))
			px.Blackhole()
			res := make(chan error, 2)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			if err := pub.Send(ctx, tp, herald.NewMessage([]byte("x")), adapters.SendOptions{}, func(err error) { res <- err }); err != nil {
				t.Fatalf("Send: %v", err)
			}
			select {
			case err := <-res:
				if !errors.Is(err, herald.ErrOutcomeUnknown) || errors.Is(err, herald.ErrUnreachable) || !strings.Contains(err.Error(), tp) {
					t.Fatalf("done: %v, want ErrOutcomeUnknown (not ErrUnreachable), naming the topic", err)
				}
				if herald.KindOf(err) != herald.KindOutcomeUnknown {
					t.Errorf("kind %v", herald.KindOf(err))
				}
			case <-time.After(4 * time.Second):
				t.Fatal("done not called after the deadline")
			}
			px.Up()
			select {
			case err := <-res:
				t.Fatalf("done called twice: %v", err)
			case <-time.After(300 * time.Millisecond):
			}
		})
	}
}

// Messages written while the server was cut off are written again once
// it answers (nats.go's ack timeout, or the reconnect) and done reports
// them stored, once each; the stream keeps one copy of each (the resends
// carry the same Nats-Msg-Id), in order.
func TestResendAfterPartition(t *testing.T) {
	px, f := proxied(t, "")
	pub := f.OpenTopic(t, "")
	tp := topic(t)
	st := natsxtest.OpenStream(t, fixture(t, "", "").OpenSubscription(t, "g", ""), tp, 16, nil)
	natsxtest.MustPublish(t, pub, tp, herald.NewMessage([]byte("warm")))
	st.Ack(natsxtest.ReceiveN(t, st, 1, 10*time.Second)[0].Token)
	px.Blackhole()
	var mu sync.Mutex
	results := map[int][]error{}
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, m := range natsxtest.Numbered(4) {
		wg.Add(1)
		if err := pub.Send(ctx, tp, m, adapters.SendOptions{}, func(err error) {
			mu.Lock()
			results[i] = append(results[i], err)
			mu.Unlock()
			wg.Done()
		}); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	px.Up()
	wg.Wait()
	mu.Lock()
	for i := range 4 {
		if len(results[i]) != 1 || results[i][0] != nil {
			t.Errorf("message %d: done results %v, want one nil", i, results[i])
		}
	}
	mu.Unlock()
	got := natsxtest.ReceiveN(t, st, 4, 20*time.Second)
	for i, d := range got {
		if natsxtest.Number(t, d) != i {
			t.Errorf("delivery %d is message %q: order lost", i, d.Msg.Payload)
		}
		st.Ack(d.Token)
	}
	natsxtest.NoDelivery(t, st, 500*time.Millisecond) // stored once each
}

// Close waits within its context for the answers of the messages taken,
// then fails the rest with ErrClosed, once each, before it returns.
func TestCloseFailsUnanswered(t *testing.T) {
	for _, mode := range []string{"", "mode=core"} {
		t.Run(mode, func(t *testing.T) {
			px, f := proxied(t, mode)
			pub := f.OpenTopic(t, "")
			tp := topic(t)
			natsxtest.MustPublish(t, pub, tp, herald.NewMessage([]byte("warm")))
			px.Blackhole()
			res := make(chan error, 4)
			for _, m := range natsxtest.Numbered(2) {
				if err := pub.Send(context.Background(), tp, m, adapters.SendOptions{}, func(err error) { res <- err }); err != nil {
					t.Fatalf("Send: %v", err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			_ = pub.Close(ctx)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Close took %v with a 200ms context", took)
			}
			for range 2 {
				select {
				case err := <-res:
					if !errors.Is(err, herald.ErrClosed) || !strings.Contains(err.Error(), tp) {
						t.Errorf("done: %v, want ErrClosed naming the topic", err)
					}
				default:
					t.Fatal("Close returned before done was called for every taken message")
				}
			}
			px.Up()
			select {
			case err := <-res:
				t.Fatalf("done called again: %v", err)
			case <-time.After(300 * time.Millisecond):
			}
		})
	}
}

// Opening gives up when its context ends, even against a server that
// never answers; Close interrupts an Open under way.
func TestOpenHonoursContext(t *testing.T) {
	ps := newPrivateServer(t, serverOptions())
	px := newProxy(t, strings.TrimPrefix(ps.URL(), "nats://"))
	f := fixture(t, "nats://"+px.Addr(), "")
	cfg := f.Config(t, "g", "")

	t.Run("connect", func(t *testing.T) {
		px.Blackhole()
		defer px.Up()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		s, err := hnats.Driver{}.OpenSubscription(ctx, cfg, natsxtest.Env())
		if err == nil {
			_ = s.Close(context.Background())
			t.Fatal("open against a silent server succeeded")
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("open returned after %v with a 100ms context: %v", took, err)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, herald.ErrUnreachable) {
			t.Errorf("open: %v, want ErrUnreachable and DeadlineExceeded", err)
		}
	})

	t.Run("stream", func(t *testing.T) {
		sub := f.OpenSubscription(t, "g", "")
		px.Blackhole()
		defer px.Up()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := sub.Open(ctx, topic(t), adapters.StreamOptions{Window: 1, Status: func(error) {}})
		if took := time.Since(start); took > time.Second {
			t.Errorf("Open returned after %v with a 100ms context", took)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, herald.ErrUnreachable) {
			t.Errorf("Open: %v, want ErrUnreachable and DeadlineExceeded", err)
		}
	})

	t.Run("close", func(t *testing.T) {
		sub := f.OpenSubscription(t, "g", "")
		px.Blackhole()
		defer px.Up()
		errc := make(chan error, 1)
		go func() {
			_, err := sub.Open(context.Background(), topic(t), adapters.StreamOptions{Window: 1, Status: func(error) {}})
			errc <- err
		}()
		time.Sleep(100 * time.Millisecond) // let Open start waiting
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		go sub.Close(ctx)
		select {
		case err := <-errc:
			if !errors.Is(err, herald.ErrClosed) {
				t.Errorf("Open interrupted by Close: %v, want ErrClosed", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Close did not interrupt Open")
		}
	})
}

// A consumer deleted under a stream breaks it: Receive returns an error
// that is not ErrClosed (the subscriber opens another stream, which
// creates the consumer again), and the next Open works.
func TestConsumerDeletedBreaksStream(t *testing.T) {
	f := fixture(t, "", "")
	tp := topic(t)
	sub := f.OpenSubscription(t, "deleted", "")
	st := natsxtest.OpenStream(t, sub, tp, 4, nil)
	pub := f.OpenTopic(t, "")
	natsxtest.MustPublish(t, pub, tp, herald.NewMessage([]byte("one")))
	st.Ack(natsxtest.ReceiveN(t, st, 1, 10*time.Second)[0].Token)
	_, rjs := rawConn(t)
	name, err := rjs.StreamNameBySubject(context.Background(), tp)
	if err != nil {
		t.Fatal(err)
	}
	if err := rjs.DeleteConsumer(context.Background(), name, "deleted"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = st.Receive(ctx, make([]adapters.Received, 1))
	if err == nil || errors.Is(err, herald.ErrClosed) || ctx.Err() != nil {
		t.Fatalf("Receive after the consumer was deleted: %v, want the stream broken", err)
	}
	_ = st.Close(context.Background())
	st2 := natsxtest.OpenStream(t, sub, tp, 4, nil)
	natsxtest.MustPublish(t, pub, tp, herald.NewMessage([]byte("two")))
	for {
		d := natsxtest.ReceiveN(t, st2, 1, 10*time.Second)[0]
		st2.Ack(d.Token)
		if string(d.Msg.Payload) == "two" {
			break
		}
	}
}

// waitDisconnected waits until v's connection saw its server go (a
// message written before that is written, not refused).
func waitDisconnected(t *testing.T, v interface{ As(any) bool }) {
	t.Helper()
	var nc *nats.Conn
	if !v.As(&nc) {
		t.Fatal("As(*nats.Conn) failed")
	}
	deadline := time.Now().Add(10 * time.Second)
	for nc.IsConnected() {
		if time.Now().After(deadline) {
			t.Fatal("the client did not notice its server stopped")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
