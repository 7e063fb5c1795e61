package embedded_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/embedded"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

// The JetStream checks shared with the nats driver, on an embedded
// server of the test's own.
func TestStreamWindow(t *testing.T)      { natsxtest.StreamWindow(t, serverFixture(t)) }
func TestStreamNack(t *testing.T)        { natsxtest.StreamNack(t, serverFixture(t)) }
func TestValid(t *testing.T)             { natsxtest.Valid(t, serverFixture(t)) }
func TestSendAll(t *testing.T)           { natsxtest.SendAll(t, serverFixture(t)) }
func TestPrepare(t *testing.T)           { natsxtest.Prepare(t, serverFixture(t)) }
func TestPrivateConsumer(t *testing.T)   { natsxtest.PrivateConsumer(t, serverFixture(t)) }
func TestSendLeavesMessage(t *testing.T) { natsxtest.SendLeavesMessage(t, serverFixture(t)) }
func TestAfterClose(t *testing.T)        { natsxtest.AfterClose(t, serverFixture(t), "embedded") }
func TestSendTooLarge(t *testing.T)      { natsxtest.SendTooLarge(t, serverFixture(t), embedded.MaxPayload) }
func TestSlowHandlersNoDuplicates(t *testing.T) {
	natsxtest.SlowHandlersNoDuplicates(t, serverFixture(t))
}

// TestCapabilities: those of JetStream, in one process.
func TestCapabilities(t *testing.T) {
	f := fixture(t.TempDir(), "")
	got := embedded.Driver{}.Capabilities(f.Config(t, "", ""))
	want := adapters.Capabilities{Durable: true, Groups: true, Redelivery: adapters.RedeliverBroker, NackDelay: true,
		CountsAttempts: true, Order: adapters.OrderQueue, MaxMessageSize: embedded.MaxPayload, DefaultWindow: 1024, SingleProcess: true,
		Delay:   adapters.DelayCapabilities{Max: 7*24*time.Hour - 1500*time.Millisecond, Precision: 1500 * time.Millisecond, Durable: true, Ordered: true},
		Request: adapters.RequestCaps{Path: adapters.RequestInbox}, Timestamps: true}
	if got != want {
		t.Errorf("%+v, want %+v", got, want)
	}
	if c := (embedded.Driver{}).Capabilities(f.Config(t, "", "storage=memory")); c.Durable || c.Delay.Durable {
		t.Error("storage=memory declared durable")
	}
}

// A delivery held longer than the ack wait is kept from redelivery by
// the stream's progress signals: another member of the group gets
// nothing while it is held, and nothing once it is acked.
func TestStreamKeepsLongHandlersInProgress(t *testing.T) {
	f := serverFixture(t)
	tp := topic()
	a := natsxtest.OpenStream(t, f.OpenSubscription(t, "g", "ack_wait=1s"), tp, 4, nil)
	natsxtest.MustPublish(t, f.OpenTopic(t, ""), tp, natsxtest.Numbered(1)...)
	d := natsxtest.ReceiveN(t, a, 1, 10*time.Second)[0]
	b := natsxtest.OpenStream(t, f.OpenSubscription(t, "g", "ack_wait=1s"), tp, 4, nil)
	natsxtest.NoDelivery(t, b, 2500*time.Millisecond) // 2.5 ack waits
	if !a.Valid(d.Token) {
		t.Error("the held delivery is not valid")
	}
	a.Ack(d.Token)
	natsxtest.NoDelivery(t, b, 1500*time.Millisecond)
	natsxtest.NoDelivery(t, a, 10*time.Millisecond)
}

// A consumer deleted under a stream breaks it (Receive returns an error
// that is not ErrClosed: the subscriber opens another stream, which
// creates the consumer again and starts from the first retained
// message); after the subscription's Close, Receive and Open say
// ErrClosed.
func TestConsumerDeletedBreaksStream(t *testing.T) {
	f := serverFixture(t)
	sub := f.OpenSubscription(t, "g", "")
	tp := topic()
	st := natsxtest.OpenStream(t, sub, tp, 8, nil)
	pub := f.OpenTopic(t, "")
	natsxtest.MustPublish(t, pub, tp, natsxtest.Numbered(1)...)
	st.Ack(natsxtest.ReceiveN(t, st, 1, 10*time.Second)[0].Token)
	var js jetstream.JetStream
	if !pub.As(&js) {
		t.Fatal("As(*jetstream.JetStream) failed")
	}
	stream, err := js.StreamNameBySubject(context.Background(), tp)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteConsumer(context.Background(), stream, "g"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = st.Receive(ctx, make([]adapters.Received, 1))
	if err == nil || errors.Is(err, herald.ErrClosed) || ctx.Err() != nil {
		t.Fatalf("Receive after the consumer was deleted: %v, want the stream broken", err)
	}
	if !errors.Is(err, herald.ErrSubscriptionLost) {
		t.Errorf("error %v does not say the subscription was lost", err)
	}
	_ = st.Close(context.Background())
	st2 := natsxtest.OpenStream(t, sub, tp, 8, nil)
	got := natsxtest.ReceiveN(t, st2, 1, 10*time.Second)
	if string(got[0].Msg.Payload) != "0" {
		t.Errorf("after re-opening: %q, want the retained message 0", got[0].Msg.Payload)
	}
	st2.Ack(got[0].Token)
	_ = sub.Close(context.Background())
	if _, err := st2.Receive(context.Background(), make([]adapters.Received, 1)); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Receive after the subscription's Close: %v, want ErrClosed", err)
	}
	if _, err := sub.Open(context.Background(), tp, adapters.StreamOptions{Window: 1, Status: func(error) {}}); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Open after Close: %v, want ErrClosed", err)
	}
}

// A stream deleted under a stream with provision=false breaks it too;
// Open then fails with ErrInvalid (no stream, and none may be created)
// until the stream is back. The subscriber retries with its backoff.
func TestStreamDeletedBreaksStream(t *testing.T) {
	dir := t.TempDir()
	f := fixture(dir, "")
	tp := topic()
	pub := f.OpenTopic(t, "")
	natsxtest.MustPublish(t, pub, tp, herald.NewMessage([]byte("x"))) // creates the stream
	sub := f.OpenSubscription(t, "g", "provision=false")
	st := natsxtest.OpenStream(t, sub, tp, 4, nil)
	st.Ack(natsxtest.ReceiveN(t, st, 1, 10*time.Second)[0].Token)
	var js jetstream.JetStream
	if !pub.As(&js) {
		t.Fatal("As failed")
	}
	name, err := js.StreamNameBySubject(context.Background(), tp)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if err := js.DeleteStream(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := st.Receive(ctx, make([]adapters.Received, 1)); err == nil || errors.Is(err, herald.ErrClosed) || ctx.Err() != nil {
		t.Fatalf("Receive after the stream was deleted: %v, want the stream broken", err)
	}
	_ = st.Close(context.Background())
	if _, err := sub.Open(context.Background(), tp, adapters.StreamOptions{Window: 4, Status: func(error) {}}); !errors.Is(err, herald.ErrInvalid) {
		t.Fatalf("Open without the stream, provision=false: %v, want ErrInvalid", err)
	}
	if _, err := js.CreateStream(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	st = natsxtest.OpenStream(t, sub, tp, 4, nil)
	natsxtest.MustPublish(t, pub, tp, herald.NewMessage([]byte("y")))
	if d := natsxtest.ReceiveN(t, st, 1, 10*time.Second)[0]; string(d.Msg.Payload) != "y" {
		t.Errorf("got %q", d.Msg.Payload)
	}
}

// The embedded server restarting (same directory) is an outage the
// stream reports through Status and recovers from; what is published
// after is received.
func TestServerRestartIsReported(t *testing.T) {
	dir := t.TempDir()
	f := fixture(dir, "")
	tp := topic()
	status := natsxtest.NewStatusLog()
	st := natsxtest.OpenStream(t, f.OpenSubscription(t, "g", ""), tp, 8, status.Report)
	pub := f.OpenTopic(t, "")
	natsxtest.MustPublish(t, pub, tp, herald.NewMessage([]byte("before")))
	st.Ack(natsxtest.ReceiveN(t, st, 1, 10*time.Second)[0].Token)
	if err := embedded.Restart(dir); err != nil {
		t.Fatal(err)
	}
	if err := status.Next(t, 10*time.Second); !errors.Is(err, herald.ErrSubscriptionLost) {
		t.Fatalf("status %v, want a lost subscription", err)
	}
	status.Recovered(t, 20*time.Second)
	natsxtest.MustPublish(t, pub, tp, herald.NewMessage([]byte("after")))
	if d := natsxtest.ReceiveN(t, st, 1, 20*time.Second)[0]; string(d.Msg.Payload) != "after" {
		t.Errorf("got %q", d.Msg.Payload)
	}
}

// BenchmarkStreamPath measures the driver alone on an embedded server
// (see natsxtest.StreamPath).
//
//	go test ./adapters/embedded -run '^$' -bench StreamPath -benchtime 20000x
func BenchmarkStreamPath(b *testing.B) { natsxtest.StreamPath(b, serverFixture(b)) }

// TestForeignMessages: see natsxtest.ForeignMessages.
func TestForeignMessages(t *testing.T) { natsxtest.ForeignMessages(t, serverFixture(t)) }
