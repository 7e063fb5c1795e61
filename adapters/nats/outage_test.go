package nats_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/adaptertest"
)

// privateServer is a nats-server with JetStream of the test's own, on a
// TCP port, that the test can stop and start again (same port, same
// store) without touching the shared broker.
type privateServer struct {
	t    *testing.T
	dir  string
	port int
	srv  *server.Server
}

func newPrivateServer(t *testing.T) *privateServer {
	p := &privateServer{t: t, dir: t.TempDir(), port: -1}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// URL is the server's nats:// URL with query.
func (p *privateServer) URL(query string) string {
	return withQuery(fmt.Sprintf("nats://127.0.0.1:%d", p.port), query)
}

func (p *privateServer) Start() {
	p.t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: p.port, JetStream: true, StoreDir: p.dir,
		NoLog: true, NoSigs: true,
	})
	if err != nil {
		p.t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		p.t.Fatal("private nats-server not ready")
	}
	p.srv = srv
	p.port = srv.Addr().(*net.TCPAddr).Port
}

func (p *privateServer) Stop() {
	if p.srv != nil {
		p.srv.Shutdown()
		p.srv.WaitForShutdown()
		p.srv = nil
	}
}

// A subscription whose server goes away is reported lost and logged once
// at warn level (not once per reconnect attempt); when the server is back
// it is reported and logged as recovered, and receives again.
func TestServerOutageIsReportedOnce(t *testing.T) {
	ps := newPrivateServer(t)
	u := ps.URL("group=g&reconnect_wait=50ms")
	sink := &adaptertest.LogSink{}
	sub, err := adapters.OpenSubscriber(adapters.ContextWithLogger(context.Background(), slog.New(sink)), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	tp := topic(t)
	status := adaptertest.NewStatusLog()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := sub.Subscribe(status.Context(ctx), tp)
	if err != nil {
		t.Fatal(err)
	}
	pub := openPub(t, u)
	if err := pub.Publish(tp, newMsgs(1, "before")...); err != nil {
		t.Fatal(err)
	}
	receive(t, ch, 1, 10*time.Second)

	ps.Stop()
	lost := status.Next(t, 10*time.Second)
	if !errors.Is(lost, herald.ErrSubscriptionLost) || !strings.Contains(lost.Error(), tp) {
		t.Fatalf("report %v, want an error wrapping ErrSubscriptionLost naming the topic", lost)
	}
	time.Sleep(time.Second) // ~20 reconnect attempts
	if n := sink.Count(slog.LevelWarn, "connection lost"); n != 1 {
		t.Errorf("%d warn lines for the lost connection, want 1:\n%s", n, sink)
	}
	if n := sink.Count(slog.LevelWarn, "subscription lost", tp); n != 1 {
		t.Errorf("%d warn lines for the lost subscription, want 1:\n%s", n, sink)
	}

	ps.Start()
	for {
		err := status.Next(t, 15*time.Second)
		if err == nil {
			break
		}
		if !errors.Is(err, herald.ErrSubscriptionLost) {
			t.Fatalf("report %v", err)
		}
	}
	if n := sink.Count(slog.LevelInfo, "reconnected"); n != 1 {
		t.Errorf("%d info lines for the reconnect, want 1:\n%s", n, sink)
	}
	if n := sink.Count(slog.LevelInfo, "receives again", tp); n != 1 {
		t.Errorf("%d info lines for the recovery, want 1:\n%s", n, sink)
	}
	if err := pub.Publish(tp, newMsgs(1, "after")...); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, ch, 1, 10*time.Second); string(got[0].Payload) != "after-0" {
		t.Errorf("after the outage got %q", got[0].Payload)
	}
}

// While the server is down a publish waits until its context ends, then
// fails with ErrUnreachable and the context's error; a server back within
// the deadline makes it succeed.
func TestPublishWaitsForUnreachableServer(t *testing.T) {
	for _, mode := range []string{"", "mode=core"} {
		t.Run(mode, func(t *testing.T) {
			ps := newPrivateServer(t)
			u := withQuery(ps.URL("reconnect_wait=50ms"), mode)
			pub := openPub(t, u)
			tp := topic(t)
			if err := pub.Publish(tp, newMsgs(1, "warm")...); err != nil {
				t.Fatal(err)
			}
			cp, ok := pub.(adapters.ContextPublisher)
			if !ok {
				t.Fatalf("%T is not an adapters.ContextPublisher", pub)
			}
			ps.Stop()

			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			start := time.Now()
			err := cp.PublishContext(ctx, tp, newMsgs(1, "down")...)
			cancel()
			took := time.Since(start)
			if !errors.Is(err, herald.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("publish while down: %v, want ErrUnreachable and DeadlineExceeded", err)
			}
			if !strings.Contains(err.Error(), `herald/nats: publish to "`+tp+`"`) {
				t.Errorf("error %q does not name the backend, the operation and the topic", err)
			}
			if took < 250*time.Millisecond || took > 2*time.Second {
				t.Errorf("publish while down returned after %v, want about the 300ms deadline", took)
			}

			restarted := make(chan struct{})
			time.AfterFunc(300*time.Millisecond, func() { ps.Start(); close(restarted) })
			ctx, cancel = context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := cp.PublishContext(ctx, tp, newMsgs(1, "back")...); err != nil {
				t.Fatalf("publish while the server comes back: %v", err)
			}
			<-restarted
		})
	}
}

// Open and Subscribe give up when their context ends, even against a
// server that never answers; Close interrupts a waiting Subscribe.
func TestContextEndsWaits(t *testing.T) {
	ps := newPrivateServer(t)
	proxy := adaptertest.NewProxy(t, fmt.Sprintf("127.0.0.1:%d", ps.port))
	u := withQuery("nats://"+proxy.Addr(), "group=g")

	t.Run("open", func(t *testing.T) {
		proxy.Blackhole()
		defer proxy.Up()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		s, err := adapters.OpenSubscriber(ctx, u)
		if err == nil {
			s.Close()
			t.Fatal("open against a silent server succeeded")
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("open returned after %v with a 100ms context: %v", took, err)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("open: %v, want DeadlineExceeded", err)
		}
	})

	t.Run("subscribe", func(t *testing.T) {
		sub := openSub(t, u)
		proxy.Blackhole()
		defer proxy.Up()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := sub.Subscribe(ctx, topic(t))
		if took := time.Since(start); took > time.Second {
			t.Errorf("subscribe returned after %v with a 100ms context", took)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, herald.ErrUnreachable) {
			t.Errorf("subscribe: %v, want ErrUnreachable and DeadlineExceeded", err)
		}
	})

	t.Run("close", func(t *testing.T) {
		sub := openSub(t, u)
		proxy.Blackhole()
		defer proxy.Up()
		errc := make(chan error, 1)
		go func() {
			_, err := sub.Subscribe(context.Background(), topic(t))
			errc <- err
		}()
		time.Sleep(100 * time.Millisecond) // let Subscribe start waiting
		go sub.Close()
		select {
		case err := <-errc:
			if !errors.Is(err, herald.ErrClosed) {
				t.Errorf("subscribe interrupted by Close: %v, want ErrClosed", err)
			}
		case <-time.After(time.Second):
			t.Fatal("Close did not interrupt Subscribe within 1s")
		}
	})
}
