package heraldtest_test

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// orders is a small service that cancels an order not paid in time, as
// an application writes it: when an order is placed it publishes a
// timeout for PayWithin later (publisher.PublishAfter, real time, as in
// production); a payment marks the order paid; a timeout cancels the
// order unless it was paid. Start returns once it subscribes to its
// three topics.
type orders struct {
	pub  *publisher.Publisher
	sub  *subscriber.Subscriber
	done chan error

	mu   sync.Mutex
	paid map[string]bool
}

// PayWithin is how long an order waits for its payment.
const PayWithin = 30 * time.Minute

// Placed, Paid and Cancelled are the orders service's events.
type Placed struct{ ID string }

type Paid struct{ ID string }

type Cancelled struct {
	ID     string
	Reason string
}

func startOrders(ctx context.Context, url string) (*orders, error) {
	pub, err := publisher.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	ready := make(chan string, 3)
	sub, err := subscriber.Open(ctx, url, subscriber.WithGroup("orders"), subscriber.WithLogger(quiet),
		subscriber.WithReady(func(topic string) { ready <- topic }))
	if err != nil {
		pub.Close()
		return nil, err
	}
	s := &orders{pub: pub, sub: sub, done: make(chan error, 3), paid: map[string]bool{}}
	run := func(topic string, h herald.Handler) { go func() { s.done <- sub.Subscribe(ctx, topic, h) }() }
	run("orders", herald.JSON(func(ctx context.Context, o Placed, _ *herald.Message) error {
		m, err := herald.NewJSONMessage(o)
		if err != nil {
			return err
		}
		herald.SetKey(m, o.ID)
		return pub.PublishAfter(ctx, "orders.timeout", PayWithin, m)
	}))
	run("payments", herald.JSON(func(_ context.Context, p Paid, _ *herald.Message) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.paid[p.ID] = true
		return nil
	}))
	run("orders.timeout", herald.JSON(func(ctx context.Context, o Placed, _ *herald.Message) error {
		s.mu.Lock()
		paid := s.paid[o.ID]
		s.mu.Unlock()
		if paid {
			return nil
		}
		return herald.PublishJSON(ctx, pub, "orders.cancelled", o.ID, Cancelled{ID: o.ID, Reason: "not paid within " + PayWithin.String()})
	}))
	for range 3 {
		select {
		case <-ready:
		case err := <-s.done:
			s.done <- err
			return nil, errors.Join(err, s.Stop())
		}
	}
	return s, nil
}

func (s *orders) Stop() error {
	err := s.sub.Close()
	for range 3 {
		err = errors.Join(err, <-s.done)
	}
	return errors.Join(err, s.pub.Close())
}
