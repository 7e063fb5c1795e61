package nats_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/adaptertest"
)

// A permission revoked while subscribed (the server refuses the pull
// requests) is logged at warn level and reported as a lost subscription
// with the permission error as its cause.
func TestRevokedPermissionIsReported(t *testing.T) {
	user := func(deny []string) []*server.User {
		return []*server.User{{Username: "u", Password: "p", Permissions: &server.Permissions{
			Publish: &server.SubjectPermission{Allow: []string{">"}, Deny: deny},
		}}}
	}
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true, Users: user(nil)}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	u := "nats://u:p@" + srv.Addr().(*net.TCPAddr).String() + "?group=g&prefetch=16"
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

	revoked := *opts
	revoked.Users = user([]string{"$JS.API.CONSUMER.MSG.NEXT.>"})
	if err := srv.ReloadOptions(&revoked); err != nil {
		t.Fatal(err)
	}
	// Consuming most of the prefetched messages makes the subscriber pull
	// again (else it would within the 30s pull expiry).
	if err := pub.Publish(tp, newMsgs(60, "m")...); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(40 * time.Second)
	for {
		select {
		case m := <-ch:
			m.Ack()
		case err := <-status.C:
			if !errors.Is(err, herald.ErrSubscriptionLost) || !errors.Is(err, nats.ErrPermissionViolation) {
				t.Fatalf("report %v, want ErrSubscriptionLost caused by a permission violation", err)
			}
			if n := sink.Count(slog.LevelWarn, "Permissions Violation"); n < 1 {
				t.Errorf("no warn line naming the permission violation:\n%s", sink)
			}
			if n := sink.Count(slog.LevelWarn, "subscription lost", tp); n != 1 {
				t.Errorf("%d warn lines for the lost subscription, want 1:\n%s", n, sink)
			}
			return
		case <-deadline:
			t.Fatalf("no report within 40s of the revocation; log:\n%s", sink)
		}
	}
}
