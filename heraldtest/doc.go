// Package heraldtest is a test harness for services built on Herald: an
// in-memory backend of its own per test, reached through the ordinary
// publisher.Open and subscriber.Open with the URL the harness hands out,
// so the service code under test is unchanged; Drain, which returns once
// everything published has been handled (no inactivity timeout); records
// of what was published, handled, failed and dead-lettered, and of the
// requests made with their replies; fault injection; delayed delivery and
// redelivery delays on a fake clock the test advances; and request/reply.
//
// A service test (the service takes its broker URL, as in production):
//
//	func TestBilling(t *testing.T) {
//		ctx := context.Background()
//		h := heraldtest.New(t)
//		svc, err := billing.Start(ctx, h.URL())
//		if err != nil {
//			t.Fatal(err)
//		}
//		defer svc.Stop()
//		pub, _ := publisher.Open(ctx, h.URL())
//		defer pub.Close()
//		h.WaitSubscribed(ctx, "orders", "billing")
//		herald.PublishJSON(ctx, pub, "orders", "o-1", billing.Order{ID: "o-1", Cents: 1250})
//		herald.PublishJSON(ctx, pub, "orders", "o-2", billing.Order{ID: "o-2"})
//		if err := h.Drain(ctx); err != nil {
//			t.Fatal(err)
//		}
//		got := heraldtest.PublishedJSON[billing.Invoice](t, h, "invoices")
//		if len(got) != 1 || got[0].Cents != 1250 {
//			t.Errorf("invoices %+v, want one of 1250", got) // exact: nothing else comes
//		}
//		if dl := h.DeadLettered("orders", "billing"); len(dl) != 1 {
//			t.Errorf("dead-lettered %d orders, want o-2", len(dl))
//		}
//	}
//
// (TestBilling in this package's tests is this test, with the service.)
//
// # The backend
//
// Harness.URL is "heraldtest://<harness>"; importing the package
// registers the scheme. Each harness (New, Open) is a backend no other
// shares, so parallel tests never meet. It behaves as a broker with:
//
//   - consumer groups: subscribers of one group share a topic's messages,
//     each group gets every message; a named group exists from its first
//     Prepare or Subscribe and keeps messages while it has no subscriber;
//     a subscriber without a group has a group of its own; a message
//     published to a topic no group subscribes to is dropped (it is still
//     among Published);
//   - per-key order within a group, across its subscribers and across
//     redeliveries: a message of a key is handed out only once the one
//     before it was acked (adapters.OrderKey); so a batch subscription
//     (Subscriber.SubscribeBatch) gets at most one message of a key per
//     batch, where a broker gives it the key's messages together, and
//     BatchWait runs on real time, not on the harness's clock;
//   - redelivery by the backend (RedeliverBroker with NackDelay): the
//     subscriber's redelivery delay (its backoff, herald.RetryAfter) is
//     waited on the harness's Clock, before later messages of the key;
//   - attempt counts kept per group (CountsAttempts): the handler's
//     herald.Delivery.Attempt, Harness.Attempts;
//   - dead-lettering as in production, by middleware.DeadLetter: the
//     harness recognizes its copies (by their DLQ headers) and records the
//     original as DeadLettered for its group;
//   - delayed delivery (publisher.PublishAt, PublishAfter) on the
//     harness's Clock, without a limit, exactly at its time, in send order
//     for equal times (Capabilities.Delay);
//   - request/reply (package request): an inbox per client on the
//     harness; a request to a topic no group subscribes to fails at once
//     with herald.ErrNoResponder (Capabilities.Request.FailFast).
//
// Queues have no limit and are not durable (delayed messages neither);
// the backend declares SingleProcess.
//
// # Drain and Idle
//
// Drain returns once nothing is queued, nothing is held for redelivery
// or for its delivery time and no handler runs, jumping the clock over
// redelivery delays and to delivery times when nothing else can happen;
// an assertion that something was not published is then exact at once. Idle returns once nothing can happen until the
// clock moves, for tests that step the clock themselves. Neither has a
// timeout of its own: their ctx bounds them, and when it ends they say
// what was still pending. What they count is in Drain's documentation.
// Waits inside a handler (middleware.Retry's backoff, a sleep) are real
// time: Drain waits for them as for any running handler, whereas a
// redelivery (the handler returns its error) waits on the clock.
//
// # Delayed delivery
//
// A delayed message is stored at once (it is among Published, and
// Publications has its delivery time and whether it is still Held) and
// queued for the topic's groups once the Clock reaches its time. The
// Clock starts at the real time the harness was opened and then moves
// only with the test. The publisher computes PublishAfter(d)'s time from
// the real now, so on the Clock it is due d plus however far the Clock
// lags behind the real time (the milliseconds the test has run, when it
// never moved the Clock); when the Clock is ahead of the real time by
// more than d, the time has passed on the Clock and the message is
// delivered at once. Step exactly to the time recorded in Publications,
// or publish with PublishAt(h.Clock().Now().Add(d)), or let Drain jump. A service that cancels an unpaid order after 30 minutes:
//
//	func TestUnpaidOrderCancelled(t *testing.T) {
//		ctx := context.Background()
//		h := heraldtest.New(t)
//		svc, err := orders.Start(ctx, h.URL()) // returns once it subscribes
//		if err != nil {
//			t.Fatal(err)
//		}
//		defer svc.Stop()
//		pub, _ := publisher.Open(ctx, h.URL())
//		defer pub.Close()
//		herald.PublishJSON(ctx, pub, "orders", "o-1", orders.Placed{ID: "o-1"})
//		h.Idle(ctx)
//		due := h.Publications("orders.timeout")[0].DeliverAt // PublishAfter(30 min)
//		h.Clock().AdvanceTo(due.Add(-time.Nanosecond))
//		h.Idle(ctx)
//		if n := len(h.Published("orders.cancelled")); n != 0 {
//			t.Fatalf("%d orders cancelled a tick before their time", n)
//		}
//		h.Clock().AdvanceTo(due)
//		h.Idle(ctx)
//		if got := heraldtest.PublishedJSON[orders.Cancelled](t, h, "orders.cancelled"); len(got) != 1 {
//			t.Errorf("cancelled %+v, want o-1 at its time", got)
//		}
//	}
//
// # Request/reply
//
// request.Open on the harness's URL gives a client with its inbox on the
// harness; a responder is an ordinary handler (request.Responder). The
// request is published to its topic like any message (it is among
// Published, FailPublish and Down fail it) and Requests records it with
// its reply, or the error it ended with. A request made by a handler
// needs nothing of Drain: the handler's message is unsettled while it
// waits, and the responder replies before its own is acked. Request
// deadlines are real time (the request's context), not the Clock's:
//
//	func TestPriceQuote(t *testing.T) {
//		ctx := context.Background()
//		h := heraldtest.New(t)
//		svc, err := pricing.Start(ctx, h.URL()) // answers "prices" with request.Responder
//		if err != nil {
//			t.Fatal(err)
//		}
//		defer svc.Stop()
//		client, _ := request.Open(ctx, h.URL())
//		defer client.Close()
//		got, err := request.Request[pricing.Query, pricing.Quote](ctx, client, "prices", pricing.Query{SKU: "A1"})
//		if err != nil || got.Cents != 499 {
//			t.Fatalf("quote %+v, %v; want 499 cents", got, err)
//		}
//		if _, err := request.Request[pricing.Query, pricing.Quote](ctx, client, "stock", pricing.Query{SKU: "A1"}); !errors.Is(err, request.ErrNoResponder) {
//			t.Errorf("request to a topic nobody subscribes to: %v, want ErrNoResponder at once", err)
//		}
//		if rs := h.Requests("prices"); len(rs) != 1 || rs[0].Reply == nil || rs[0].Replies != 1 {
//			t.Errorf("requests %+v, want one with its reply", rs)
//		}
//	}
//
// # Faults
//
// FailPublish fails the n-th publish to a topic with a *herald.Error of a
// chosen kind. Down makes the backend unreachable until Up (DownFor: for a
// time on the clock): publishes fail with herald.ErrUnreachable,
// subscribers report an outage (logs, error hook, Health) and recover, and
// what they held unsettled is delivered again, with its attempt counted.
//
// # Clock
//
// Clock is a fake clock (Now, AfterFunc with the shape of
// time.AfterFunc, Advance). Code under test that takes a clock can be
// given the harness's, so that its timers move with the test's. Its
// times carry no monotonic reading.
package heraldtest
