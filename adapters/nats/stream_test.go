package nats_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

func natsFixture(t *testing.T) natsxtest.Fixture {
	u := brokerURL(t)
	return natsxtest.Fixture{
		Publisher:      func(t *testing.T) message.Publisher { return openPub(t, u) },
		Subscriber:     func(t *testing.T, group string) message.Subscriber { return openSub(t, withQuery(u, "group="+group)) },
		Topic:          func(t *testing.T) string { return topic(t) },
		CountsAttempts: true,
	}
}

func TestStreamWindow(t *testing.T)    { natsxtest.StreamWindow(t, natsFixture(t)) }
func TestStreamNack(t *testing.T)      { natsxtest.StreamNack(t, natsFixture(t)) }
func TestPublishAsyncAll(t *testing.T) { natsxtest.PublishAsyncAll(t, natsFixture(t)) }

// proxied returns a nats:// URL through a proxy to the shared broker.
func proxied(t *testing.T, query string) (*adaptertest.Proxy, string) {
	host := strings.TrimPrefix(brokerURL(t), "nats://")
	px := adaptertest.NewProxy(t, host)
	return px, withQuery("nats://"+px.Addr(), query)
}

// A full PublishAsync window blocks the next call until its context ends
// (the message is not taken, done is not called for it); the messages
// taken while the broker was cut off are sent again after the reconnect
// and done reports them stored, once each.
func TestPublishAsyncWindowAndReconnect(t *testing.T) {
	px, u := proxied(t, "max_pending=4&reconnect_wait=50ms")
	pub := openPub(t, u)
	ap := pub.(adapters.AsyncPublisher)
	tp := topic(t)
	if err := pub.Publish(tp, natsxtest.Numbered(1)...); err != nil { // provisions the stream
		t.Fatal(err)
	}
	px.Blackhole()
	var mu sync.Mutex
	results := map[int][]error{}
	var wg sync.WaitGroup
	for i, m := range natsxtest.Numbered(4) {
		wg.Add(1)
		if err := ap.PublishAsync(context.Background(), tp, m, func(err error) {
			mu.Lock()
			results[i] = append(results[i], err)
			mu.Unlock()
			wg.Done()
		}); err != nil {
			t.Fatalf("PublishAsync %d: %v", i, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := ap.PublishAsync(ctx, tp, herald.NewMessage([]byte("x")), func(error) { t.Error("done called for a message not taken") })
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), tp) {
		t.Fatalf("PublishAsync on a full window: %v, want the context's deadline and the topic", err)
	}
	px.Up()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("done not called for the taken messages after the reconnect")
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range 4 {
		if len(results[i]) != 1 || results[i][0] != nil {
			t.Errorf("message %d: done results %v, want one nil", i, results[i])
		}
	}
	sub := openSub(t, withQuery(brokerURL(t), "group=g"))
	ch := subscribe(t, sub, tp)
	got := receive(t, ch, 5, 20*time.Second)
	none(t, ch, 300*time.Millisecond) // the resends were stored once
	_ = got
}

// Concurrent PublishContext calls pipeline: while the broker does not
// answer, every caller has its message sent (16 PubAcks pending at once)
// rather than waiting for another caller's round trip; all succeed once
// it answers again.
func TestPublishContextPipelines(t *testing.T) {
	px, u := proxied(t, "reconnect_wait=50ms")
	pub := openPub(t, u)
	var js jetstream.JetStream
	if !pub.(interface{ As(any) bool }).As(&js) {
		t.Fatal("As(*jetstream.JetStream) failed")
	}
	cp := pub.(adapters.ContextPublisher)
	tp := topic(t)
	if err := pub.Publish(tp, natsxtest.Numbered(1)...); err != nil {
		t.Fatal(err)
	}
	px.Blackhole()
	const callers = 16
	errs := make(chan error, callers)
	for i := range callers {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			errs <- cp.PublishContext(ctx, tp, natsxtest.Numbered(i + 1)[i])
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for js.PublishAsyncPending() < callers {
		if time.Now().After(deadline) {
			t.Fatalf("%d PubAcks pending, want %d: callers wait for each other", js.PublishAsyncPending(), callers)
		}
		time.Sleep(5 * time.Millisecond)
	}
	px.Up()
	for range callers {
		if err := <-errs; err != nil {
			t.Errorf("PublishContext: %v", err)
		}
	}
}

// A stream whose connection is lost reports it on its context and
// recovers: the status goes to an error wrapping ErrSubscriptionLost,
// then back to nil, and messages flow again.
func TestStreamReportsLostAndRecovers(t *testing.T) {
	px, u := proxied(t, "group=g&reconnect_wait=50ms")
	sub := openSub(t, u)
	status := adaptertest.NewStatusLog()
	tp := topic(t)
	ss := sub.(adapters.StreamSubscriber)
	st, err := ss.Stream(status.Context(context.Background()), tp, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	pub := openPub(t, brokerURL(t))
	px.Down()
	lost := status.Next(t, 10*time.Second)
	if !errors.Is(lost, herald.ErrSubscriptionLost) || !strings.Contains(lost.Error(), tp) {
		t.Fatalf("report %v, want ErrSubscriptionLost naming the topic", lost)
	}
	if err := pub.Publish(tp, natsxtest.Numbered(1)...); err != nil {
		t.Fatal(err)
	}
	px.Up()
	for {
		err := status.Next(t, 15*time.Second)
		if err == nil {
			break
		}
		if !errors.Is(err, herald.ErrSubscriptionLost) {
			t.Fatalf("report %v", err)
		}
	}
	d := natsxtest.ReceiveN(t, st, 1, 20*time.Second)[0]
	st.Ack(d)
}

// A message taken by PublishAsync while the broker is unreachable fails
// in its done once publish_timeout passed, with an error wrapping
// herald.ErrUnreachable and the deadline, naming the topic: refused
// connections and a network partition (where the connection looks up and
// no PubAck comes) alike.
func TestPublishAsyncUnreachable(t *testing.T) {
	t.Run("down", func(t *testing.T) { publishAsyncUnreachable(t, (*adaptertest.Proxy).Down) })
	t.Run("blackhole", func(t *testing.T) { publishAsyncUnreachable(t, (*adaptertest.Proxy).Blackhole) })
}

func publishAsyncUnreachable(t *testing.T, cut func(*adaptertest.Proxy)) {
	px, u := proxied(t, "publish_timeout=500ms&reconnect_wait=50ms")
	pub := openPub(t, u)
	ap := pub.(adapters.AsyncPublisher)
	tp := topic(t)
	if err := pub.Publish(tp, natsxtest.Numbered(1)...); err != nil {
		t.Fatal(err)
	}
	cut(px)
	res := make(chan error, 2)
	if err := ap.PublishAsync(context.Background(), tp, herald.NewMessage([]byte("x")), func(err error) { res <- err }); err != nil {
		t.Fatalf("PublishAsync: %v", err)
	}
	select {
	case err := <-res:
		if !errors.Is(err, herald.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), tp) {
			t.Fatalf("done: %v, want ErrUnreachable and the deadline, naming the topic", err)
		}
	case <-time.After(4 * time.Second): // well before nats.go's own 5s ack timeout
		t.Fatal("done not called after publish_timeout")
	}
	px.Up()
	select {
	case err := <-res:
		t.Fatalf("done called twice: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
}

// Close fails the messages PublishAsync took and the broker did not
// acknowledge within close_timeout: done gets herald.ErrClosed, once each.
func TestPublishAsyncClose(t *testing.T) {
	px, u := proxied(t, "close_timeout=200ms&reconnect_wait=50ms")
	pub := openPub(t, u)
	ap := pub.(adapters.AsyncPublisher)
	tp := topic(t)
	if err := pub.Publish(tp, natsxtest.Numbered(1)...); err != nil {
		t.Fatal(err)
	}
	px.Blackhole()
	res := make(chan error, 4)
	for _, m := range natsxtest.Numbered(2) {
		if err := ap.PublishAsync(context.Background(), tp, m, func(err error) { res <- err }); err != nil {
			t.Fatalf("PublishAsync: %v", err)
		}
	}
	_ = pub.Close()
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
}
