package heraldtest_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/heraldtest"
	"github.com/heraldkit/herald/request"
)

// TestPriceQuote is the request test of the package documentation: a
// request gets the responder's reply, a request to a topic nobody
// subscribes to fails at once, and the records show the request with its
// reply.
func TestPriceQuote(t *testing.T) {
	ctx := context.Background()
	h := heraldtest.New(t)
	svc, err := startPricing(ctx, h.URL()) // answers "prices" with request.Responder
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	client, _ := request.Open(ctx, h.URL())
	defer client.Close()
	got, err := request.Request[Query, Quote](ctx, client, "prices", Query{SKU: "A1"})
	if err != nil || got.Cents != 499 {
		t.Fatalf("quote %+v, %v; want 499 cents", got, err)
	}
	if _, err := request.Request[Query, Quote](ctx, client, "stock", Query{SKU: "A1"}); !errors.Is(err, request.ErrNoResponder) {
		t.Errorf("request to a topic nobody subscribes to: %v, want ErrNoResponder at once", err)
	}
	if rs := h.Requests("prices"); len(rs) != 1 || rs[0].Reply == nil || rs[0].Replies != 1 {
		t.Errorf("requests %+v, want one with its reply", rs)
	}
}

// The records of request/reply: the request is among Published of its
// topic with its reply address and correlation token, handled by the
// responder's group; Requests has its reply (a remote error is a reply
// with request.ErrorHeader), and the error a request ended with without
// one (no responder, its deadline).
func TestRequestRecords(t *testing.T) {
	ctx := testCtx(t)
	h := heraldtest.New(t)
	svc, err := startPricing(ctx, h.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	client, err := request.Open(ctx, h.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if _, err := request.Request[Query, Quote](ctx, client, "prices", Query{SKU: "B2"}); err != nil {
		t.Fatal(err)
	}
	_, err = request.Request[Query, Quote](ctx, client, "prices", Query{SKU: "Z9"})
	var re *request.RemoteError
	if !errors.As(err, &re) || re.Message != "no price for Z9" {
		t.Errorf("request for an unknown SKU: %v, want the responder's error", err)
	}
	if _, err := request.Request[Query, Quote](ctx, client, "nobody", Query{}); !errors.Is(err, request.ErrNoResponder) {
		t.Errorf("request to nobody: %v", err)
	}
	h.FailPublish("prices", 1, herald.KindDenied) // a request is a publish to its topic
	if _, err := request.Request[Query, Quote](ctx, client, "prices", Query{SKU: "A1"}); !errors.Is(err, herald.ErrDenied) {
		t.Errorf("request with a publish fault: %v, want ErrDenied", err)
	}
	if err := h.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	rs := h.Requests("prices")
	if len(rs) != 3 || !errors.Is(rs[2].Err, herald.ErrDenied) || rs[2].Reply != nil {
		t.Fatalf("requests to prices recorded %+v, want 3, the last failed by the fault", rs)
	}
	ok, failed := rs[0], rs[1]
	if q, _ := herald.Decode[Quote](ok.Reply); q.Cents != 1250 || ok.Err != nil || ok.Replies != 1 {
		t.Errorf("first request: reply %+v, err %v, %d replies", q, ok.Err, ok.Replies)
	}
	if failed.Reply == nil || failed.Reply.Metadata.Get(request.ErrorHeader) != "no price for Z9" {
		t.Errorf("second request's reply %v, want the remote error", failed.Reply)
	}
	pub := h.Published("prices")
	if len(pub) != 2 || pub[0].Metadata.Get(adapters.CorrelationHeader) != ok.Msg.Metadata.Get(adapters.CorrelationHeader) ||
		ok.Msg.Metadata.Get(adapters.ReplyToHeader) == "" || ok.Msg.Metadata.Get(request.DeadlineHeader) == "" {
		t.Errorf("published %v, request %v; want the requests with their headers", pub, ok.Msg)
	}
	if n := len(h.Handled("prices", "pricing")); n != 2 {
		t.Errorf("the responder's group handled %d requests, want 2", n)
	}
	nobody := h.Requests("nobody")
	if len(nobody) != 1 || !errors.Is(nobody[0].Err, herald.ErrNoResponder) || len(h.Published("nobody")) != 0 {
		t.Errorf("request to nobody recorded as %+v (published %d), want ErrNoResponder and nothing published", nobody, len(h.Published("nobody")))
	}

	// A group without a subscriber running keeps the request: it waits
	// for its deadline (real time), recorded with it.
	sub := subscribe(t, h, "slow", "g", func(context.Context, *herald.Message) error { return nil })
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = request.Request[Query, Quote](ctx, client, "slow", Query{}, request.Timeout(20*time.Millisecond))
	if !errors.Is(err, request.ErrTimeout) {
		t.Errorf("request to a group with no subscriber: %v, want ErrTimeout", err)
	}
	if rs := h.Requests("slow"); len(rs) != 1 || !errors.Is(rs[0].Err, context.DeadlineExceeded) || rs[0].Reply != nil {
		t.Errorf("recorded %+v, want the request ended by its deadline", rs)
	}
}

// Drain needs nothing of its own for a request made from a handler: the
// handler's message stays unsettled while it waits for the reply, the
// request is queued for the responder's group like any message, and the
// responder replies before its own message is acked. So one Drain after
// the orders are published returns only once every invoice, made from a
// reply, was published: checked with no waiting, with responders that
// pause at random, over 20 rounds.
func TestDrainWaitsForRequestsFromHandlers(t *testing.T) {
	for round := range 20 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			ctx := testCtx(t)
			h := heraldtest.New(t)
			client, err := request.Open(ctx, h.URL())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { client.Close() })
			subscribe(t, h, "prices", "pricing", request.Responder(client, func(_ context.Context, q Query) (Quote, error) {
				if rand.IntN(3) == 0 {
					time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
				}
				return Quote{SKU: q.SKU, Cents: prices[q.SKU]}, nil
			}), withConcurrency(4))
			pub := openPub(t, h)
			var invoiced atomic.Int64
			subscribe(t, h, "orders", "billing", herald.JSON(func(ctx context.Context, o Order, _ *herald.Message) error {
				q, err := request.Request[Query, Quote](ctx, client, "prices", Query{SKU: o.ID})
				if err != nil {
					return err
				}
				invoiced.Add(1)
				return herald.PublishJSON(ctx, pub, "invoices", o.ID, Invoice{Order: o.ID, Cents: q.Cents})
			}), withConcurrency(4))
			const n = 10
			for i := range n {
				sku := []string{"A1", "B2"}[i%2]
				if err := herald.PublishJSON(ctx, pub, "orders", sku, Order{ID: sku}); err != nil {
					t.Fatal(err)
				}
			}
			if err := h.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			if got := len(h.Published("invoices")); got != n || invoiced.Load() != n {
				t.Fatalf("after Drain: %d invoices published, %d replies used; want %d", got, invoiced.Load(), n)
			}
			for _, r := range h.Requests("prices") {
				if r.Reply == nil || r.Err != nil {
					t.Fatalf("request %+v has no reply after Drain", r)
				}
			}
		})
	}
}

// Closing the client, or the harness, ends the requests waiting with
// ErrClosed; a closed client's requests fail at once. While the harness
// is down a request fails as unreachable, and so does a reply.
func TestRequestClosedAndDown(t *testing.T) {
	ctx := testCtx(t)
	h := heraldtest.New(t)
	// A group with no subscriber running: requests wait.
	sub := subscribe(t, h, "t", "g", func(context.Context, *herald.Message) error { return nil })
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	for _, closeIt := range []string{"client", "harness"} {
		client, err := request.Open(ctx, h.URL())
		if err != nil {
			t.Fatal(err)
		}
		res := make(chan error, 1)
		go func() { _, err := client.RequestMsg(ctx, "t", herald.NewMessage(nil)); res <- err }()
		waitFor(t, func() bool { // the request was sent and waits
			rs := h.Requests("t")
			return len(rs) > 0 && rs[len(rs)-1].Err == nil
		})
		if closeIt == "client" {
			h.Down()
			if _, err := client.RequestMsg(ctx, "t", herald.NewMessage(nil)); !errors.Is(err, herald.ErrUnreachable) {
				t.Errorf("request while down: %v, want ErrUnreachable", err)
			}
			to := adapters.ReplyAddress{To: "x", Correlation: "y"}
			if err := rawRequester(t, h).Reply(ctx, to, herald.NewMessage(nil)); !errors.Is(err, herald.ErrUnreachable) {
				t.Errorf("reply while down: %v, want ErrUnreachable", err)
			}
			h.Up()
			client.Close()
		} else {
			h.Close()
		}
		if err := <-res; !errors.Is(err, herald.ErrClosed) {
			t.Errorf("request waiting when the %s closed: %v, want ErrClosed", closeIt, err)
		}
		if _, err := client.RequestMsg(ctx, "t", herald.NewMessage(nil)); !errors.Is(err, herald.ErrClosed) {
			t.Errorf("request after the %s closed: %v, want ErrClosed", closeIt, err)
		}
		client.Close()
	}
}

// rawRequester opens the harness driver's requester itself.
func rawRequester(t *testing.T, h *heraldtest.Harness) adapters.Requester {
	t.Helper()
	cfg, err := herald.Resolve(h.URL())
	if err != nil {
		t.Fatal(err)
	}
	d, err := adapters.For(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.OpenRequester(context.Background(), cfg, adapters.Env{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

// waitFor polls cond (for a request sent by another goroutine, which
// has no signal of its own to wait on) for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
