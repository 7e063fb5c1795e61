package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/examples/internal/appdb"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/middleware/otelmw"
	"github.com/heraldkit/herald/outbox"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// saga holds what the services of one process share.
type saga struct {
	target  string
	topics  topics
	out     *printer
	logger  *slog.Logger
	metrics *metrics
	db      *appdb.DB
	tables  tables
	state   *state
	ledger  *Ledger
	store   *outbox.Store // the outbox every step's next event is written to
	// failOnce makes every step fail once right after its transaction
	// committed, before the ack, so that each is redelivered.
	failOnce bool
	failed   sync.Map // message ID and topic -> true: the failure was injected; false: redelivered since
	// cancelAfter: each order's OrderTimeout is written to the outbox
	// for delivery cancelAfter after its placing; 0: no timeouts.
	cancelAfter time.Duration

	orders orders
}

// orders is what role orders waits on: the orders whose final step has
// committed.
type orders struct {
	mu            sync.Mutex
	settled       map[string]bool // orders whose final step has been handled
	timedOut      map[string]bool // orders whose timeout has been handled
	unredelivered int             // -fail-once failures whose redelivery was not acked yet
	final         chan string     // order IDs as they settle
}

// route is a topic, the saga step its handler runs, and what to do once a
// delivery of it has committed (or was found handled before).
type route struct {
	topic   string
	step    string
	handler herald.Handler
	after   func(order string)
}

type ranKey struct{}

// step runs the saga step name for order in the inbox's transaction (the
// effect once by (order, step), see Ledger, then next with its result,
// which writes the next event to the outbox): the effect, the ledger
// entry, the next event and the inbox's record commit together or not at
// all. Outcomes are counted in saga_steps_total (applied and duplicate
// once the transaction committed, failed at once).
func (s *saga) step(ctx context.Context, name, order string, effect func(tx *sql.Tx) (string, error), next func(ctx context.Context, tx *sql.Tx, result string) error) error {
	if ran, ok := ctx.Value(ranKey{}).(*bool); ok {
		*ran = true
	}
	tx := outbox.TxFrom(ctx)
	result, applied, err := s.ledger.Once(ctx, tx, order, name, func() (string, error) { return effect(tx) })
	if err != nil {
		s.metrics.step(name, resultFailed)
		return err
	}
	// Counted and said once the transaction committed: a rollback leaves
	// the message to be handled again, and nothing counted.
	outbox.AfterCommit(ctx, func() {
		if applied {
			s.metrics.step(name, resultApplied)
		} else {
			s.metrics.step(name, resultDuplicate)
			s.out.say("%s %s: already applied (the ledger): not applied again\n", name, order)
		}
	})
	if err := next(ctx, tx, result); err != nil {
		s.metrics.step(name, resultFailed)
		return err
	}
	return nil
}

// handler wraps the inbox around r's handler, and around that: a line and
// the duplicate count when the inbox skipped a redelivery, the failure of
// -fail-once after the commit, and r.after once a delivery is acked.
func (s *saga) handler(inbox *outbox.Inbox, r route) herald.Handler {
	next := inbox.Middleware()(r.handler)
	return func(ctx context.Context, m *herald.Message) error {
		ran := new(bool)
		if err := next(context.WithValue(ctx, ranKey{}, ran), m); err != nil {
			return err
		}
		order := herald.Key(m)
		if !*ran {
			s.metrics.step(r.step, resultDuplicate)
			s.out.say("%s %s: a redelivery, handled before (the inbox): skipped\n", r.step, order)
		}
		if s.failOnce {
			key := m.UUID + " " + r.topic
			if _, again := s.failed.LoadOrStore(key, true); !again {
				s.orders.mu.Lock()
				s.orders.unredelivered++
				s.orders.mu.Unlock()
				s.metrics.step(r.step, resultFailed)
				return fmt.Errorf("%s %s: injected failure after the commit, before the ack", r.step, order)
			}
			if s.failed.CompareAndSwap(key, true, false) { // its redelivery: acked now
				s.orders.mu.Lock()
				s.orders.unredelivered--
				s.orders.mu.Unlock()
				s.wake()
			}
		}
		if r.after != nil { // the delivery acked (with -fail-once: the redelivery)
			r.after(order)
		}
		return nil
	}
}

// inventoryRoutes: reserve on OrderPlaced, release on PaymentFailed.
func (s *saga) inventoryRoutes() []route {
	return []route{
		{s.topics.placed, "reserve", herald.JSON(func(ctx context.Context, o OrderPlaced, _ *herald.Message) error {
			return s.step(ctx, "reserve", o.OrderID, func(tx *sql.Tx) (string, error) {
				if released, err := s.ledger.Has(ctx, tx, o.OrderID, "release"); err != nil || released {
					if released {
						s.out.say("inventory: %s expired before its reservation: not reserved\n", o.OrderID)
					}
					return "", err
				}
				id := "res-" + o.OrderID
				if err := s.state.reserve(ctx, tx, o, id); err != nil {
					return "", err
				}
				s.out.say("inventory: reserved %d x %s for %s as %s\n", o.Qty, o.SKU, o.OrderID, id)
				return id, nil
			}, func(ctx context.Context, tx *sql.Tx, id string) error {
				if id == "" { // released (expired) before it was reserved
					return nil
				}
				return s.publishJSON(ctx, tx, s.topics.reserved, o.OrderID, InventoryReserved{OrderPlaced: o, ReservationID: id})
			})
		}), nil},
		{s.topics.failed, "release", herald.JSON(func(ctx context.Context, f PaymentFailed, _ *herald.Message) error {
			return s.step(ctx, "release", f.OrderID, func(tx *sql.Tx) (string, error) {
				if err := s.state.release(ctx, tx, f); err != nil {
					return "", err
				}
				s.out.say("inventory: released %s (%d x %s back in stock)\n", f.ReservationID, f.Qty, f.SKU)
				return f.ReservationID, nil
			}, func(ctx context.Context, tx *sql.Tx, id string) error {
				return s.publishJSON(ctx, tx, s.topics.released, f.OrderID, InventoryReleased{OrderID: f.OrderID, ReservationID: id, Reason: f.Reason})
			})
		}), nil},
		s.expiredRoute(),
	}
}

// paymentRoutes: charge on InventoryReserved; a declined card publishes
// PaymentFailed; a card that stalls (-stall-every) publishes nothing, as
// a card gateway that never answers: the order is stuck until its
// timeout cancels it.
func (s *saga) paymentRoutes() []route {
	return []route{{s.topics.reserved, "charge", herald.JSON(func(ctx context.Context, r InventoryReserved, _ *herald.Message) error {
		return s.step(ctx, "charge", r.OrderID, func(*sql.Tx) (string, error) {
			if r.Card == "stalls" {
				s.out.say("payments: the card gateway did not answer for %s: no outcome (-stall-every)\n", r.OrderID)
				return "stalled", nil
			}
			if r.Card == "declined" {
				s.out.say("payments: card declined for %s (%.2f)\n", r.OrderID, r.Amount)
				return "", nil // the outcome is recorded as well: a retry does not try the card again
			}
			s.out.say("payments: charged %.2f for %s\n", r.Amount, r.OrderID)
			return "pay-" + r.OrderID, nil
		}, func(ctx context.Context, tx *sql.Tx, paymentID string) error {
			switch paymentID {
			case "stalled":
				return nil
			case "":
				return s.publishJSON(ctx, tx, s.topics.failed, r.OrderID, PaymentFailed{InventoryReserved: r, Reason: "card declined"})
			}
			return s.publishJSON(ctx, tx, s.topics.charged, r.OrderID, PaymentCharged{OrderID: r.OrderID, PaymentID: paymentID, Amount: r.Amount})
		})
	}), nil}}
}

// orderRoutes: confirm on PaymentCharged, cancel on InventoryReleased.
func (s *saga) orderRoutes() []route {
	finish := func(ctx context.Context, order, state, why string) func(*sql.Tx) (string, error) {
		return func(tx *sql.Tx) (string, error) {
			if err := s.state.setOrder(ctx, tx, order, state); err != nil {
				return "", err
			}
			s.metrics.outcomes.WithLabelValues(state).Inc()
			s.out.say("orders: %s %s (%s)\n", order, state, why)
			return state, nil
		}
	}
	none := func(context.Context, *sql.Tx, string) error { return nil }
	rs := []route{
		{s.topics.charged, "confirm", herald.JSON(func(ctx context.Context, p PaymentCharged, _ *herald.Message) error {
			confirm := finish(ctx, p.OrderID, "confirmed", "payment "+p.PaymentID)
			return s.step(ctx, "confirm", p.OrderID, func(tx *sql.Tx) (string, error) {
				// An order its timeout cancelled is not confirmed by a
				// payment that came after (a real saga would refund it).
				if state, err := s.state.orderState(ctx, tx, p.OrderID); err != nil || state == "cancelling" || state == "cancelled" {
					if err == nil {
						s.out.say("orders: %s: payment %s came after the order was %s: not confirmed, a refund is due\n", p.OrderID, p.PaymentID, state)
					}
					return "late", err
				}
				return confirm(tx)
			}, none)
		}), s.settled},
		{s.topics.released, "cancel", herald.JSON(func(ctx context.Context, r InventoryReleased, _ *herald.Message) error {
			why := r.Reason + ", reservation " + r.ReservationID + " released"
			if r.ReservationID == "" {
				why = r.Reason + ", nothing was reserved"
			}
			return s.step(ctx, "cancel", r.OrderID, finish(ctx, r.OrderID, "cancelled", why), none)
		}), s.settled},
	}
	if s.cancelAfter > 0 {
		rs = append(rs, s.timeoutRoute())
	}
	return rs
}

// settled notes that the final step of order committed: its saga is over.
func (s *saga) settled(order string) {
	o := &s.orders
	o.mu.Lock()
	o.settled[order] = true
	o.mu.Unlock()
	s.wake()
}

// wake tells waitFinal to look again.
func (s *saga) wake() {
	select {
	case s.orders.final <- "":
	default: // the waiter has a wake-up pending already
	}
}

// publishJSON writes v, keyed by the order ID, to the outbox in tx.
func (s *saga) publishJSON(ctx context.Context, tx *sql.Tx, topic, order string, v any) error {
	msg, err := herald.NewJSONMessage(v)
	if err != nil {
		return err
	}
	herald.SetKey(msg, order)
	return s.store.Publish(ctx, tx, topic, msg)
}

// serve runs the routes as consumer group group until ctx is done. ready,
// when not nil, is called once every route is subscribed.
func (s *saga) serve(ctx context.Context, group string, routes func() []route, ready func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg := otelmw.Config{
		Config: middleware.Config{
			Logger:          s.logger,
			DeadLetterTopic: "{topic}.dlq",
			// Redelivery: a failed step is nacked and the broker delivers it
			// again (no worker sleeps); 5 attempts, then the dead-letter topic.
			Retry: []middleware.RetryOption{middleware.MaxAttempts(5), middleware.InitialDelay(20 * time.Millisecond), middleware.Redelivery()},
		},
		MeterProvider: s.metrics.meters,
	}
	pub, err := publisher.Open(ctx, s.target, publisher.WithMiddleware(otelmw.RecommendedPublish(cfg)...))
	if err != nil {
		return err
	}
	defer pub.Close()
	mws, err := otelmw.Recommended(pub, cfg)
	if err != nil {
		return err
	}
	inbox, err := outbox.NewInbox(ctx, s.db.DB, s.db.Dialect, group, outbox.WithInboxTable(s.tables.inbox))
	if err != nil {
		return err
	}
	rs := routes()
	subscribed := make(chan string, len(rs))
	sub, err := subscriber.Open(ctx, s.target,
		subscriber.WithGroup(group),
		subscriber.WithConcurrency(4),
		subscriber.WithLogger(s.logger),
		subscriber.WithMiddleware(mws...),
		subscriber.WithReady(func(topic string) { subscribed <- topic }))
	if err != nil {
		return err
	}
	defer sub.Close()
	errs := make(chan error, len(rs))
	for _, r := range rs {
		go func() {
			err := sub.Subscribe(ctx, r.topic, s.handler(inbox, r))
			if err != nil {
				cancel() // a service with a lost route stops rather than run half of the saga
			}
			errs <- err
		}()
	}
	var topics []string
	for range rs {
		select {
		case t := <-subscribed:
			topics = append(topics, t)
		case err := <-errs:
			return fmt.Errorf("%s: %w", group, err)
		}
	}
	s.out.say("%s: ready, group %s on %s\n", group, group, strings.Join(topics, ", "))
	if ready != nil {
		ready()
	}
	var all error
	for range rs {
		all = errors.Join(all, <-errs)
	}
	if all != nil {
		return fmt.Errorf("%s: %w", group, all)
	}
	return nil
}

// placeOrders writes n orders, with IDs idPrefix-1 ... idPrefix-n, each
// in one transaction with its OrderPlaced event and, with a timeout, its
// delayed OrderTimeout (both in the outbox); every
// declineEvery-th pays with a card that is declined, every stallEvery-th
// other one with a card that stalls (0: none).
func (s *saga) placeOrders(ctx context.Context, idPrefix string, n, declineEvery, stallEvery int) ([]string, error) {
	ids := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		o := OrderPlaced{OrderID: fmt.Sprintf("%s-%d", idPrefix, i), SKU: "sku-widget", Qty: i, Amount: float64(i) * 9.5, Card: "visa"}
		switch {
		case declineEvery > 0 && i%declineEvery == 0:
			o.Card = "declined"
		case stallEvery > 0 && i%stallEvery == 0:
			o.Card = "stalls"
		}
		placedAt := time.Now()
		if err := s.inTx(ctx, func(tx *sql.Tx) error {
			if err := s.state.setOrder(ctx, tx, o.OrderID, "placed"); err != nil {
				return err
			}
			if err := s.publishJSON(ctx, tx, s.topics.placed, o.OrderID, o); err != nil {
				return err
			}
			if s.cancelAfter > 0 {
				return s.writeTimeout(ctx, tx, o, placedAt)
			}
			return nil
		}); err != nil {
			return nil, err
		}
		s.out.say("orders: placed %s (%d x %s, %.2f, card %s)\n", o.OrderID, o.Qty, o.SKU, o.Amount, o.Card)
		ids = append(ids, o.OrderID)
	}
	return ids, nil
}

// inTx runs fn in a transaction and commits it when fn returned nil.
func (s *saga) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit: ErrTxDone
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// waitFinal waits until every order in ids is confirmed or cancelled and
// its last step handled, and its timeout handled when there is one (and,
// with -fail-once, every step's redelivery acked).
func (s *saga) waitFinal(ctx context.Context, ids []string) error {
	pending := func() []string {
		s.orders.mu.Lock()
		defer s.orders.mu.Unlock()
		var p []string
		for _, id := range ids {
			switch {
			case !s.orders.settled[id]:
				p = append(p, id)
			case s.cancelAfter > 0 && !s.orders.timedOut[id]:
				p = append(p, id+" (its timeout)")
			}
		}
		if n := s.orders.unredelivered; n > 0 {
			p = append(p, fmt.Sprintf("(%d redeliveries of -fail-once)", n))
		}
		return p
	}
	for {
		p := pending()
		if len(p) == 0 {
			return nil
		}
		select {
		case <-s.orders.final:
		case <-ctx.Done():
			return fmt.Errorf("orders not settled: %s: %w", strings.Join(p, ", "), ctx.Err())
		}
	}
}
