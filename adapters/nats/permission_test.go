package nats_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

func users(deny []string) []*server.User {
	return []*server.User{{Username: "u", Password: "p", Permissions: &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{">"}, Deny: deny},
	}}}
}

// A permission revoked while consuming (the server refuses the pull
// requests) is reported through Status as a lost subscription with the
// permission error as its cause.
func TestRevokedPermissionIsReported(t *testing.T) {
	opts := server.Options{Users: users(nil)}
	ps := newPrivateServer(t, opts)
	u := "nats://u:p@" + ps.URL()[len("nats://"):]
	f := fixture(t, u, "")
	tp := topic(t)
	status := natsxtest.NewStatusLog()
	st := natsxtest.OpenStream(t, f.OpenSubscription(t, "g", ""), tp, 16, status.Report)
	pub := f.OpenTopic(t, "")
	revoked := ps.last.Clone()
	revoked.Users = users([]string{"$JS.API.CONSUMER.MSG.NEXT.>"})
	if err := ps.srv.ReloadOptions(revoked); err != nil {
		t.Fatal(err)
	}
	// Settling what comes makes the stream pull again.
	natsxtest.MustPublish(t, pub, tp, natsxtest.Numbered(60)...)
	deadline := time.After(40 * time.Second)
	buf := make([]adapters.Received, 16)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		n, _ := st.Receive(ctx, buf)
		cancel()
		for _, d := range buf[:n] {
			st.Ack(d.Token)
		}
		select {
		case err := <-status.C():
			if !errors.Is(err, herald.ErrSubscriptionLost) || !errors.Is(err, nats.ErrPermissionViolation) {
				t.Fatalf("status %v, want a lost subscription caused by a permission violation", err)
			}
			return
		case <-deadline:
			t.Fatal("no status report within 40s of the revocation")
		default:
		}
	}
}

// A publish outside the user's permissions fails at once with ErrDenied
// (the server answers it with an asynchronous error, no PubAck), naming
// the subject and the user.
func TestPublishDenied(t *testing.T) {
	ps := newPrivateServer(t, server.Options{Users: users([]string{"herald.test.>"})})
	f := fixture(t, "nats://u:p@"+ps.URL()[len("nats://"):], "")
	start := time.Now()
	tp := topic(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := natsxtest.Publish(ctx, f.OpenTopic(t, ""), tp, herald.NewMessage([]byte("x")))
	if !errors.Is(err, herald.ErrDenied) {
		t.Fatalf("publish outside the permissions: %v, want ErrDenied", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %v: not at once", took)
	}
}
