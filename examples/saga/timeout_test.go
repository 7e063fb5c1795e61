package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/outbox"
	"github.com/heraldkit/herald/publisher"
)

// TestAutoCancelEmbedded runs the auto-cancel on the embedded broker, with
// SQLite and with PostgreSQL.
func TestAutoCancelEmbedded(t *testing.T) {
	for _, d := range databases() {
		t.Run(d.name, func(t *testing.T) { testAutoCancel(t, "embedded://"+t.TempDir(), d) })
	}
}

// TestAutoCancelNATS runs the auto-cancel on NATS JetStream
// (HERALD_TEST_NATS) with SQLite.
func TestAutoCancelNATS(t *testing.T) {
	testAutoCancel(t, adaptertest.BrokerURL(t, "HERALD_TEST_NATS"), databases()[0])
}

// TestAutoCancelRabbitMQ runs the auto-cancel on RabbitMQ
// (HERALD_TEST_AMQP) with SQLite.
func TestAutoCancelRabbitMQ(t *testing.T) {
	testAutoCancel(t, adaptertest.BrokerURL(t, "HERALD_TEST_AMQP"), databases()[0])
}

// testAutoCancel runs 6 orders with a 2 s timeout: 2 and 4 stall (their
// card gateway never answers), 3 and 6 are declined, 1 and 5 confirmed;
// every step fails once after its commit. It checks that the stuck
// orders are cancelled by their timeout, delivered no earlier than 2 s
// after they were placed (a timeout written with Publish, not
// PublishAfter, fails this), with their reservations released; that the
// timeout of a confirmed or cancelled order changes nothing; and that
// each timeout is applied once although it was redelivered.
func testAutoCancel(t *testing.T, target string, d database) {
	const after = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url, _, prefix := d.openURL(t)
	var out, errOut bytes.Buffer
	args := []string{"-target", target, "-db", url, "-tables", prefix, "-prefix", "saga-" + herald.NewID(), "-orders", "6", "-order-prefix", "order",
		"-decline-every", "3", "-stall-every", "2", "-cancel-after", after.String(),
		"-fail-once", "-metrics", "127.0.0.1:0", "-scrape", "-timeout", "45s"}
	start := time.Now()
	if err := run(ctx, args, &out, &errOut); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	t.Logf("6 orders, 2 s timeout: %v", time.Since(start).Round(time.Millisecond))
	got := out.String()
	defer func() {
		if t.Failed() {
			t.Logf("stdout:\n%s", got)
		}
	}()
	delivered := regexp.MustCompile(`(?m)^orders: (order-\d+) not completed within 2s \(timeout delivered ([0-9.]+m?s) after it was placed\): cancelling$`)
	cancelled := map[string]time.Duration{}
	for _, m := range delivered.FindAllStringSubmatch(got, -1) {
		d, err := time.ParseDuration(m[2])
		if err != nil {
			t.Fatal(err)
		}
		if _, twice := cancelled[m[1]]; twice {
			t.Errorf("%s: timeout applied twice", m[1])
		}
		cancelled[m[1]] = d
	}
	for _, id := range []string{"order-2", "order-4"} {
		d, ok := cancelled[id]
		switch {
		case !ok:
			t.Errorf("%s (stalled) was not cancelled by its timeout", id)
		case d < after:
			t.Errorf("%s: timeout delivered %v after the order was placed: before the %v timeout", id, d, after)
		}
		once(t, got, fmt.Sprintf("payments: the card gateway did not answer for %s: no outcome (-stall-every)", id))
		once(t, got, fmt.Sprintf("inventory: released res-%s (not completed within 2s: back in stock)", id))
		once(t, got, fmt.Sprintf("orders: %s cancelled (not completed within 2s, reservation res-%s released)", id, id))
	}
	if len(cancelled) != 2 {
		t.Errorf("orders cancelled by their timeout: %v, want order-2 and order-4", cancelled)
	}
	for _, id := range []string{"order-1", "order-5"} {
		once(t, got, fmt.Sprintf("orders: %s confirmed (payment pay-%s)", id, id))
		once(t, got, fmt.Sprintf("orders: %s timeout: already confirmed, left as it is", id))
	}
	for _, id := range []string{"order-3", "order-6"} {
		once(t, got, fmt.Sprintf("orders: %s cancelled (card declined, reservation res-%s released)", id, id))
		once(t, got, fmt.Sprintf("orders: %s timeout: already cancelled, left as it is", id))
	}
	if strings.Contains(got, "a refund is due") {
		t.Error("a payment came after its order was cancelled")
	}
	once(t, got, "summary: 2 confirmed, 4 cancelled")
	once(t, got, "summary: 2 cancelled by their timeout (not completed within 2s)")
	once(t, got, "summary: sku-widget stock 1000 -> 994, 2 reservation(s) held for confirmed orders")
	for step, n := range map[string]int{"timeout": 6, "release": 4, "cancel": 4, "confirm": 2} {
		if v := series(t, got, `saga_steps_total{result="applied",step="`+step+`"}`); v != n {
			t.Errorf("%s applied %d times, want %d", step, v, n)
		}
	}
	if v := series(t, got, `saga_steps_total{result="duplicate",step="timeout"}`); v < 6 {
		t.Errorf("timeout: %d redeliveries skipped, want at least 6 (one per injected failure)", v)
	}
}

// TestPlaceOrderOneTransaction: an order, its OrderPlaced and its
// OrderTimeout commit in one transaction or not at all. A placement whose
// timeout the outbox refuses (an empty topic) leaves no order and no
// OrderPlaced; one that commits leaves the order placed, its OrderPlaced
// due and its timeout delayed in the outbox, with no relay running:
// nothing was sent to a broker.
func TestPlaceOrderOneTransaction(t *testing.T) {
	for _, d := range databases() {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			db, prefix := d.open(t)
			st := &state{db: db, t: newTables(prefix)}
			if err := st.create(ctx, 10); err != nil {
				t.Fatal(err)
			}
			store, err := outbox.New(ctx, db.DB, db.Dialect, outbox.WithTable(st.t.outbox))
			if err != nil {
				t.Fatal(err)
			}
			pub, err := publisher.Open(ctx, "mem://")
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			relay, err := store.NewRelay(pub) // never run: for its Stats
			if err != nil {
				t.Fatal(err)
			}
			s := &saga{topics: newTopics("t"), out: &printer{w: io.Discard}, db: db, tables: st.t, state: st, store: store, cancelAfter: time.Hour}
			check := func(order, wantState string, wantPending, wantDelayed int64) {
				t.Helper()
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				state, err := st.orderState(ctx, tx, order)
				tx.Rollback() //nolint:errcheck // read only
				if err != nil {
					t.Fatal(err)
				}
				if state != wantState {
					t.Errorf("%s: state %q, want %q", order, state, wantState)
				}
				stats, err := relay.Stats(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if stats.Pending != wantPending || stats.Delayed != wantDelayed {
					t.Errorf("after %s: outbox pending %d, delayed %d; want %d, %d", order, stats.Pending, stats.Delayed, wantPending, wantDelayed)
				}
			}

			s.topics.timeout = "" // refused by the outbox: the placement fails at its timeout
			if _, err := s.placeOrders(ctx, "refused", 1, 0, 0); err == nil || !strings.Contains(err.Error(), "topic is empty") {
				t.Fatalf("placeOrders with a refused timeout: %v, want the outbox's topic is empty", err)
			}
			check("refused-1", "", 0, 0) // no order, no OrderPlaced, no timeout

			s.topics = newTopics("t")
			if _, err := s.placeOrders(ctx, "placed", 1, 0, 0); err != nil {
				t.Fatal(err)
			}
			check("placed-1", "placed", 1, 1) // the order, its OrderPlaced (due), its timeout (in an hour)
		})
	}
}

// TestAutoCancelKafka runs the auto-cancel on Kafka (HERALD_TEST_KAFKA),
// which has no delayed delivery of its own, with SQLite: the timeouts
// wait in the outbox and its relay sends them once due.
func TestAutoCancelKafka(t *testing.T) {
	testAutoCancel(t, adaptertest.BrokerURL(t, "HERALD_TEST_KAFKA"), databases()[0])
}
