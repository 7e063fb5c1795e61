package nats_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald/request"
	"github.com/heraldkit/herald/subscriber"
)

type stockQuery struct {
	SKU string `json:"sku"`
}

type stock struct {
	SKU   string `json:"sku"`
	Count int    `json:"count"`
}

// openClient opens a request client on u; closed at cleanup.
func openClient(t *testing.T, u string) *request.Client {
	t.Helper()
	c, err := request.Open(context.Background(), u)
	if err != nil {
		t.Fatalf("request.Open(%s): %v", u, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// serve subscribes a Herald responder on topic and waits until it is
// ready.
func serve(t *testing.T, u, topic string) {
	t.Helper()
	c := openClient(t, u)
	ready := make(chan string, 1)
	sub, err := subscriber.Open(context.Background(), u, subscriber.WithGroup("stock"), subscriber.WithConcurrency(8),
		subscriber.WithReady(func(s string) { ready <- s }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- sub.Subscribe(ctx, topic, request.Responder(c, func(_ context.Context, q stockQuery) (stock, error) {
			return stock{SKU: q.SKU, Count: len(q.SKU)}, nil
		}))
	}()
	t.Cleanup(func() { cancel(); <-done; _ = sub.Close() })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Subscribe: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("responder not ready within 10s")
	}
}

// plainConn connects a nats.go client of the test's own.
func plainConn(t *testing.T) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(brokerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// TestRequestOneInboxSubscription: a client's concurrent requests share
// one subscription (the multiplexed inbox): no request adds one. On core
// NATS the client's connection holds exactly that one; on JetStream also
// nats.go's own two (the PubAck inbox of async publishes and the
// JetStream API's reply muxer), as many after one request as while 64
// are in flight and after them.
func TestRequestOneInboxSubscription(t *testing.T) {
	for _, mode := range []string{"mode=core", "mode=jetstream"} {
		t.Run(mode, func(t *testing.T) {
			u := withQuery(brokerURL(t), mode)
			tp := topic(t)
			serve(t, u, tp)
			c := openClient(t, u)
			var nc *nats.Conn
			if !c.As(&nc) {
				t.Fatal("Client.As(**nats.Conn) = false")
			}
			if _, err := request.Request[stockQuery, stock](context.Background(), c, tp, stockQuery{SKU: "warm"}, request.Timeout(10*time.Second)); err != nil {
				t.Fatal(err)
			}
			want := nc.NumSubscriptions()
			if mode == "mode=core" && want != 1 {
				t.Fatalf("core: %d subscriptions on the client's connection after a request; want 1 (the inbox)", want)
			}
			if want > 3 {
				t.Fatalf("jetstream: %d subscriptions after a request; want at most 3 (the inbox, the PubAck inbox, the API muxer)", want)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for i := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sku := fmt.Sprintf("sku-%d", i)
					got, err := request.Request[stockQuery, stock](context.Background(), c, tp, stockQuery{SKU: sku}, request.Timeout(10*time.Second))
					if err == nil && got.SKU != sku {
						err = fmt.Errorf("request %s got %+v", sku, got)
					}
					if n := nc.NumSubscriptions(); n != want {
						err = errors.Join(err, fmt.Errorf("%d subscriptions on the client's connection during requests; want %d", n, want))
					}
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if n := nc.NumSubscriptions(); n != want {
				t.Errorf("%d subscriptions after the requests; want %d", n, want)
			}
		})
	}
}

// TestRequestCoreSubjectCapturedByStream: a core request to a subject a
// JetStream stream captures gets the stream's PubAck on its reply
// subject. The requester must not take it for the reply: with a
// responder it returns the responder's reply; without one it times out
// (the stream listens, so the server sends no no-responders status).
func TestRequestCoreSubjectCapturedByStream(t *testing.T) {
	u := withQuery(brokerURL(t), "mode=core")
	nc := plainConn(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	base := topic(t)
	name := fmt.Sprintf("herald_reqcapture_%d", time.Now().UnixNano())
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{base + ".>"}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
	c := openClient(t, u)

	served := base + ".served"
	serve(t, u, served)
	got, err := request.Request[stockQuery, stock](ctx, c, served, stockQuery{SKU: "A1"}, request.Timeout(5*time.Second))
	if err != nil || got != (stock{SKU: "A1", Count: 2}) {
		t.Fatalf("request to a captured subject with a responder: %+v, %v; want {A1 2} (not the PubAck)", got, err)
	}

	_, err = request.Request[stockQuery, stock](ctx, c, base+".nobody", stockQuery{SKU: "A1"}, request.Timeout(time.Second))
	if !errors.Is(err, request.ErrTimeout) {
		t.Fatalf("request to a captured subject without responder: %v; want ErrTimeout (the PubAck is no reply)", err)
	}
}

// TestRequestInteropPlainNATS: on core NATS, nats.go's own nc.Request is
// answered by a Herald responder (the reply subject is the reply
// address), and a Herald request is answered by a plain msg.Respond.
func TestRequestInteropPlainNATS(t *testing.T) {
	u := withQuery(brokerURL(t), "mode=core")
	nc := plainConn(t)

	tp := topic(t)
	serve(t, u, tp)
	rep, err := nc.Request(tp, []byte(`{"sku":"XYZ"}`), 5*time.Second)
	if err != nil {
		t.Fatalf("nc.Request to a Herald responder: %v", err)
	}
	var s stock
	if err := json.Unmarshal(rep.Data, &s); err != nil || s != (stock{SKU: "XYZ", Count: 3}) {
		t.Fatalf("nc.Request reply %q (%v); want {XYZ 3}", rep.Data, err)
	}

	plain := topic(t)
	sub, err := nc.Subscribe(plain, func(m *nats.Msg) { _ = m.Respond([]byte(`{"sku":"P","count":42}`)) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	c := openClient(t, u)
	got, err := request.Request[stockQuery, stock](context.Background(), c, plain, stockQuery{SKU: "P"}, request.Timeout(5*time.Second))
	if err != nil || got != (stock{SKU: "P", Count: 42}) {
		t.Fatalf("Herald request to a plain responder: %+v, %v; want {P 42}", got, err)
	}
}
