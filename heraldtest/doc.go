// Package heraldtest is a test harness for services built on Herald: an
// in-memory backend of its own per test, reached through the ordinary
// publisher.Open and subscriber.Open with the URL the harness hands out,
// so the service code under test is unchanged; Drain, which returns once
// everything published has been handled (no inactivity timeout); records
// of what was published, handled, failed and dead-lettered; fault
// injection; and a fake clock for redelivery delays.
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
//     before it was acked (adapters.OrderKey);
//   - redelivery by the backend (RedeliverBroker with NackDelay): the
//     subscriber's redelivery delay (its backoff, herald.RetryAfter) is
//     waited on the harness's Clock, before later messages of the key;
//   - attempt counts kept per group (CountsAttempts): the handler's
//     herald.Delivery.Attempt, Harness.Attempts;
//   - dead-lettering as in production, by middleware.DeadLetter: the
//     harness recognizes its copies (by their DLQ headers) and records the
//     original as DeadLettered for its group.
//
// Queues have no limit and are not durable; the backend declares
// SingleProcess.
//
// # Drain and Idle
//
// Drain returns once nothing is queued, nothing is held for redelivery
// and no handler runs, jumping the clock over redelivery delays when
// nothing else can happen; an assertion that something was not published
// is then exact at once. Idle returns once nothing can happen until the
// clock moves, for tests that step the clock themselves. Neither has a
// timeout of its own: their ctx bounds them, and when it ends they say
// what was still pending. What they count is in Drain's documentation.
// Waits inside a handler (middleware.Retry's backoff, a sleep) are real
// time: Drain waits for them as for any running handler, whereas a
// redelivery (the handler returns its error) waits on the clock.
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
// given the harness's, so that its timers move with the test's.
package heraldtest
