package heraldtest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/heraldkit/herald/request"
	"github.com/heraldkit/herald/subscriber"
)

// pricing is a small responder service: it answers price queries on
// "prices" with request.Responder, as an application writes it. An
// unknown SKU is a remote error. Start returns once it subscribes.
type pricing struct {
	client *request.Client
	sub    *subscriber.Subscriber
	done   chan error
}

// Query and Quote are pricing's request and reply.
type Query struct{ SKU string }

type Quote struct {
	SKU   string
	Cents int
}

var prices = map[string]int{"A1": 499, "B2": 1250}

func startPricing(ctx context.Context, url string) (*pricing, error) {
	client, err := request.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	sub, err := subscriber.Open(ctx, url, subscriber.WithGroup("pricing"), subscriber.WithLogger(quiet),
		subscriber.WithConcurrency(4), subscriber.WithReady(func(string) { close(ready) }))
	if err != nil {
		client.Close()
		return nil, err
	}
	s := &pricing{client: client, sub: sub, done: make(chan error, 1)}
	go func() {
		s.done <- sub.Subscribe(ctx, "prices", request.Responder(client, func(_ context.Context, q Query) (Quote, error) {
			cents, ok := prices[q.SKU]
			if !ok {
				return Quote{}, fmt.Errorf("no price for %s", q.SKU)
			}
			return Quote{SKU: q.SKU, Cents: cents}, nil
		}))
	}()
	select {
	case <-ready:
	case err := <-s.done:
		s.done <- err
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

func (s *pricing) Stop() error {
	err := errors.Join(s.sub.Close(), <-s.done)
	return errors.Join(err, s.client.Close())
}
