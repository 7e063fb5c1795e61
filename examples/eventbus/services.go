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
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// bus is what every service of this program shares.
type bus struct {
	target string
	events *Events
	out    *printer
	logger *slog.Logger
}

// service is one subscribing service: its consumer group and its routes.
type service struct {
	group string
	// routes returns the service's handlers; pub publishes onward events.
	routes func(pub herald.Publisher) []Route
	// park dead-letters what cannot be handled (every service but dlq,
	// which must not park its own failures in another dead-letter topic).
	park bool
}

// service returns the service called name (a -role other than all and
// orders).
func (b *bus) service(name string) service {
	e := b.events
	switch name {
	case "inventory":
		return service{group: "inventory", park: true, routes: func(pub herald.Publisher) []Route {
			return []Route{On(e.OrderCreated, func(ctx context.Context, o OrderCreated, _ *herald.Message) error {
				r := InventoryReserved{OrderID: o.OrderID, ReservationID: "res-" + o.OrderID, Items: o.Items}
				if err := Publish(ctx, pub, e.InventoryReserved, o.OrderID, r); err != nil {
					return err
				}
				b.out.say("inventory: reserved %d item(s) for %s as %s\n", len(o.Items), o.OrderID, r.ReservationID)
				return nil
			})}
		}}
	case "payments":
		return service{group: "payments", park: true, routes: func(pub herald.Publisher) []Route {
			return []Route{On(e.OrderCreated, func(ctx context.Context, o OrderCreated, _ *herald.Message) error {
				p := PaymentCompleted{OrderID: o.OrderID, PaymentID: "pay-" + o.OrderID, Amount: o.Total}
				if err := Publish(ctx, pub, e.PaymentCompleted, o.OrderID, p); err != nil {
					return err
				}
				b.out.say("payments: charged %s %.2f as %s\n", o.OrderID, p.Amount, p.PaymentID)
				return nil
			})}
		}}
	case "audit":
		return service{group: "audit", park: true, routes: func(herald.Publisher) []Route {
			return []Route{
				On(e.OrderCreated, func(_ context.Context, o OrderCreated, _ *herald.Message) error {
					b.out.say("audit: OrderCreated %s by %s, total %.2f\n", o.OrderID, o.Customer, o.Total)
					return nil
				}),
				On(e.InventoryReserved, func(_ context.Context, r InventoryReserved, _ *herald.Message) error {
					b.out.say("audit: InventoryReserved %s as %s\n", r.OrderID, r.ReservationID)
					return nil
				}),
				On(e.PaymentCompleted, func(_ context.Context, p PaymentCompleted, _ *herald.Message) error {
					b.out.say("audit: PaymentCompleted %s %.2f as %s\n", p.OrderID, p.Amount, p.PaymentID)
					return nil
				}),
			}
		}}
	default: // dlq
		return service{group: "dlq", routes: func(herald.Publisher) []Route {
			var rs []Route
			for _, topic := range e.Topics() {
				rs = append(rs, Route{Topic: topic + ".dlq", Handler: func(_ context.Context, m *herald.Message) error {
					h := m.Metadata.Get
					typ, ok := e.Type(h(middleware.DLQTopicHeader)) // the registry: topic -> event type
					if !ok {
						typ = "unknown event"
					}
					b.out.say("dlq: %s %s from group %s on %s (%s): %s\n", typ, h(middleware.DLQOriginalIDHeader),
						h(middleware.DLQGroupHeader), h(middleware.DLQTopicHeader), h(middleware.DLQReasonHeader), h(middleware.DLQErrorHeader))
					return nil
				}})
			}
			return rs
		}}
	}
}

// serve runs svc until ctx is done or, with exitAfter > 0, until it has
// handled exitAfter distinct events (dead-lettered ones count: they are
// settled). ready, when not nil, is called once every route is subscribed.
func (b *bus) serve(ctx context.Context, svc service, exitAfter int, ready func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg := middleware.Config{
		Logger: b.logger,
		Retry:  []middleware.RetryOption{middleware.MaxAttempts(3), middleware.InitialDelay(50 * time.Millisecond)},
	}
	if svc.park {
		cfg.DeadLetterTopic = "{topic}.dlq"
	}
	pub, err := publisher.Open(ctx, b.target, publisher.WithMiddleware(middleware.RecommendedPublish(cfg)...))
	if err != nil {
		return err
	}
	defer pub.Close()
	mws, err := middleware.Recommended(pub, cfg)
	if err != nil {
		return err
	}
	routes := svc.routes(pub)
	subscribed := make(chan string, len(routes))
	sub, err := subscriber.Open(ctx, b.target,
		subscriber.WithGroup(svc.group),
		subscriber.WithLogger(b.logger),
		subscriber.WithMiddleware(append([]herald.Middleware{countDistinct(exitAfter, cancel)}, mws...)...),
		subscriber.WithReady(func(topic string) { subscribed <- topic }))
	if err != nil {
		return err
	}
	defer sub.Close()

	errs := make(chan error, len(routes))
	for _, r := range routes {
		go func() {
			err := sub.Subscribe(ctx, r.Topic, r.Handler)
			if err != nil {
				cancel() // one route lost: stop the service rather than run half of it
			}
			errs <- err
		}()
	}
	topics := make([]string, 0, len(routes))
	for range routes {
		select {
		case t := <-subscribed:
			topics = append(topics, t)
		case err := <-errs:
			return fmt.Errorf("%s: %w", svc.group, err)
		}
	}
	b.out.say("%s: ready, group %s on %s\n", svc.group, svc.group, strings.Join(topics, ", "))
	if ready != nil {
		ready()
	}
	var all error
	for range routes {
		all = errors.Join(all, <-errs)
	}
	if all != nil {
		return fmt.Errorf("%s: %w", svc.group, all)
	}
	return nil
}

// countDistinct returns middleware that calls stop once n distinct
// messages were handled successfully (n = 0: never). Redeliveries of a
// message already handled do not count twice.
func countDistinct(n int, stop func()) herald.Middleware {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(next herald.Handler) herald.Handler {
		return func(ctx context.Context, m *herald.Message) error {
			err := next(ctx, m)
			if err != nil || n == 0 {
				return err
			}
			mu.Lock()
			seen[m.UUID] = true
			done := len(seen) >= n
			mu.Unlock()
			if done {
				stop()
			}
			return nil
		}
	}
}

// placeOrders publishes n OrderCreated events and bad undecodable ones.
func (b *bus) placeOrders(ctx context.Context, n, bad int) error {
	pub, err := publisher.Open(ctx, b.target, publisher.WithMiddleware(middleware.RecommendedPublish(middleware.Config{Logger: b.logger})...))
	if err != nil {
		return err
	}
	defer pub.Close()
	for i := 1; i <= n; i++ {
		o := OrderCreated{
			OrderID:  fmt.Sprintf("order-%d", i),
			Customer: fmt.Sprintf("customer-%d", i%3+1),
			Items:    []Item{{SKU: "sku-book", Qty: i}, {SKU: "sku-pen", Qty: 1}},
			Total:    float64(i)*12.5 + 1.25,
		}
		if err := Publish(ctx, pub, b.events.OrderCreated, o.OrderID, o); err != nil {
			return err
		}
		b.out.say("orders: published OrderCreated %s\n", o.OrderID)
	}
	for i := 1; i <= bad; i++ {
		// An OrderCreated whose total is not a number: no handler can
		// decode it, so each group dead-letters it.
		id := fmt.Sprintf("bad-%d", i)
		m := herald.NewMessage([]byte(`{"order_id":"` + id + `","total":"twelve"}`))
		m.Metadata.Set(EventTypeHeader, b.events.OrderCreated.Type)
		herald.SetKey(m, id)
		if err := pub.Publish(ctx, b.events.OrderCreated.Topic, m); err != nil {
			return err
		}
		b.out.say("orders: published a malformed OrderCreated %s (message %s)\n", id, m.UUID)
	}
	return nil
}
