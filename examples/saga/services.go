package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/middleware/otelmw"
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
	ledger  *Ledger
	// failOnce makes every step fail once right after its effect, before
	// it publishes the next event, so that each step is redelivered.
	failOnce bool
	failed   sync.Map // ledgerKey -> true: the failure was injected

	inventory inventory
	orders    orders
}

// inventory is the inventory service's state.
type inventory struct {
	mu       sync.Mutex
	stock    map[string]int
	reserved map[string]InventoryReserved // by order ID
}

// orders is the order service's state.
type orders struct {
	mu      sync.Mutex
	state   map[string]string // by order ID: placed, confirmed, cancelled
	settled map[string]bool   // orders whose final step has been handled
	final   chan string       // order IDs as they settle
}

// route is a topic and its handler.
type route struct {
	topic   string
	handler herald.Handler
}

// step runs the saga step name for order: effect once (see Ledger), then
// next with its result, on every delivery. Each outcome is counted in
// saga_steps_total.
func (s *saga) step(ctx context.Context, name, order string, effect func() (string, error), next func(ctx context.Context, result string) error) error {
	result, applied, err := s.ledger.Once(order, name, func() (string, error) {
		r, err := effect()
		if err == nil {
			s.metrics.step(name, resultApplied) // counted where the effect runs
		}
		return r, err
	})
	if err != nil {
		s.metrics.step(name, resultFailed)
		return err
	}
	if !applied {
		s.metrics.step(name, resultDuplicate)
		s.out.say("%s %s: already applied, a redelivery: not applied again\n", name, order)
	}
	if s.failOnce {
		if _, again := s.failed.LoadOrStore(ledgerKey{order, name}, true); !again {
			s.metrics.step(name, resultFailed)
			return fmt.Errorf("%s %s: injected failure after the effect", name, order)
		}
	}
	if err := next(ctx, result); err != nil {
		s.metrics.step(name, resultFailed)
		return err
	}
	return nil
}

// inventoryRoutes: reserve on OrderPlaced, release on PaymentFailed.
func (s *saga) inventoryRoutes(pub herald.Publisher) []route {
	inv := &s.inventory
	return []route{
		{s.topics.placed, herald.JSON(func(ctx context.Context, o OrderPlaced, _ *herald.Message) error {
			return s.step(ctx, "reserve", o.OrderID, func() (string, error) {
				inv.mu.Lock()
				defer inv.mu.Unlock()
				if inv.stock[o.SKU] < o.Qty {
					// A real saga would publish InventoryRejected here.
					return "", herald.Permanent(fmt.Errorf("reserve %s: %d x %s, only %d in stock", o.OrderID, o.Qty, o.SKU, inv.stock[o.SKU]))
				}
				inv.stock[o.SKU] -= o.Qty
				r := InventoryReserved{OrderPlaced: o, ReservationID: "res-" + o.OrderID}
				inv.reserved[o.OrderID] = r
				s.out.say("inventory: reserved %d x %s for %s as %s\n", o.Qty, o.SKU, o.OrderID, r.ReservationID)
				return r.ReservationID, nil
			}, func(ctx context.Context, id string) error {
				return publishJSON(ctx, pub, s.topics.reserved, o.OrderID, InventoryReserved{OrderPlaced: o, ReservationID: id})
			})
		})},
		{s.topics.failed, herald.JSON(func(ctx context.Context, f PaymentFailed, _ *herald.Message) error {
			return s.step(ctx, "release", f.OrderID, func() (string, error) {
				inv.mu.Lock()
				defer inv.mu.Unlock()
				inv.stock[f.SKU] += f.Qty
				delete(inv.reserved, f.OrderID)
				s.out.say("inventory: released %s (%d x %s back in stock)\n", f.ReservationID, f.Qty, f.SKU)
				return f.ReservationID, nil
			}, func(ctx context.Context, id string) error {
				return publishJSON(ctx, pub, s.topics.released, f.OrderID, InventoryReleased{OrderID: f.OrderID, ReservationID: id, Reason: f.Reason})
			})
		})},
	}
}

// paymentRoutes: charge on InventoryReserved; a declined card publishes
// PaymentFailed.
func (s *saga) paymentRoutes(pub herald.Publisher) []route {
	return []route{{s.topics.reserved, herald.JSON(func(ctx context.Context, r InventoryReserved, _ *herald.Message) error {
		return s.step(ctx, "charge", r.OrderID, func() (string, error) {
			if r.Card == "declined" {
				s.out.say("payments: card declined for %s (%.2f)\n", r.OrderID, r.Amount)
				return "", nil // the outcome is recorded as well: a retry does not try the card again
			}
			s.out.say("payments: charged %.2f for %s\n", r.Amount, r.OrderID)
			return "pay-" + r.OrderID, nil
		}, func(ctx context.Context, paymentID string) error {
			if paymentID == "" {
				return publishJSON(ctx, pub, s.topics.failed, r.OrderID, PaymentFailed{InventoryReserved: r, Reason: "card declined"})
			}
			return publishJSON(ctx, pub, s.topics.charged, r.OrderID, PaymentCharged{OrderID: r.OrderID, PaymentID: paymentID, Amount: r.Amount})
		})
	})}}
}

// orderRoutes: confirm on PaymentCharged, cancel on InventoryReleased.
func (s *saga) orderRoutes() []route {
	finish := func(order, state, why string) func() (string, error) {
		return func() (string, error) {
			o := &s.orders
			o.mu.Lock()
			o.state[order] = state
			o.mu.Unlock()
			s.metrics.outcomes.WithLabelValues(state).Inc()
			s.out.say("orders: %s %s (%s)\n", order, state, why)
			return state, nil
		}
	}
	// settled runs once the final step's handler is done (after its
	// retries): the saga of that order is over.
	settled := func(order string) func(context.Context, string) error {
		return func(context.Context, string) error {
			o := &s.orders
			o.mu.Lock()
			o.settled[order] = true
			o.mu.Unlock()
			select {
			case o.final <- order:
			default: // the waiter has a wake-up pending already
			}
			return nil
		}
	}
	return []route{
		{s.topics.charged, herald.JSON(func(ctx context.Context, p PaymentCharged, _ *herald.Message) error {
			return s.step(ctx, "confirm", p.OrderID, finish(p.OrderID, "confirmed", "payment "+p.PaymentID), settled(p.OrderID))
		})},
		{s.topics.released, herald.JSON(func(ctx context.Context, r InventoryReleased, _ *herald.Message) error {
			return s.step(ctx, "cancel", r.OrderID, finish(r.OrderID, "cancelled", r.Reason+", reservation "+r.ReservationID+" released"), settled(r.OrderID))
		})},
	}
}

// publishJSON publishes v keyed by the order ID.
func publishJSON(ctx context.Context, pub herald.Publisher, topic, order string, v any) error {
	return herald.PublishJSON(ctx, pub, topic, order, v)
}

// serve runs the routes as consumer group group until ctx is done. ready,
// when not nil, is called once every route is subscribed.
func (s *saga) serve(ctx context.Context, group string, routes func(herald.Publisher) []route, ready func()) error {
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
	rs := routes(pub)
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
			err := sub.Subscribe(ctx, r.topic, r.handler)
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

// placeOrders publishes n orders, with IDs idPrefix-1 ... idPrefix-n;
// every declineEvery-th pays with a card that is declined (0: none).
func (s *saga) placeOrders(ctx context.Context, idPrefix string, n, declineEvery int) ([]string, error) {
	pub, err := publisher.Open(ctx, s.target, publisher.WithMiddleware(otelmw.RecommendedPublish(otelmw.Config{Config: middleware.Config{Logger: s.logger}, MeterProvider: s.metrics.meters})...))
	if err != nil {
		return nil, err
	}
	defer pub.Close()
	ids := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		o := OrderPlaced{OrderID: fmt.Sprintf("%s-%d", idPrefix, i), SKU: "sku-widget", Qty: i, Amount: float64(i) * 9.5, Card: "visa"}
		if declineEvery > 0 && i%declineEvery == 0 {
			o.Card = "declined"
		}
		s.orders.mu.Lock()
		s.orders.state[o.OrderID] = "placed"
		s.orders.mu.Unlock()
		if err := publishJSON(ctx, pub, s.topics.placed, o.OrderID, o); err != nil {
			return nil, err
		}
		s.out.say("orders: placed %s (%d x %s, %.2f, card %s)\n", o.OrderID, o.Qty, o.SKU, o.Amount, o.Card)
		ids = append(ids, o.OrderID)
	}
	return ids, nil
}

// waitFinal waits until every order in ids is confirmed or cancelled and
// its last step handled.
func (s *saga) waitFinal(ctx context.Context, ids []string) error {
	pending := func() []string {
		s.orders.mu.Lock()
		defer s.orders.mu.Unlock()
		var p []string
		for _, id := range ids {
			if !s.orders.settled[id] {
				p = append(p, id)
			}
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
