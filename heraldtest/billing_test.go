package heraldtest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/heraldtest"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// billing is a small service as an application writes it: it takes its
// broker URL and knows nothing of the harness. It invoices each order;
// an order without an amount is dead-lettered.
type billing struct {
	pub  *publisher.Publisher
	sub  *subscriber.Subscriber
	done chan error
}

// Order and Invoice are billing's events.
type Order struct {
	ID    string
	Cents int
}

type Invoice struct {
	Order string
	Cents int
}

func startBilling(ctx context.Context, url string) (*billing, error) {
	pub, err := publisher.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	sub, err := subscriber.Open(ctx, url, subscriber.WithGroup("billing"),
		subscriber.WithMiddleware(middleware.DeadLetter(pub, "{topic}.dlq")))
	if err != nil {
		pub.Close()
		return nil, err
	}
	s := &billing{pub: pub, sub: sub, done: make(chan error, 1)}
	go func() {
		s.done <- sub.Subscribe(ctx, "orders", herald.JSON(func(ctx context.Context, o Order, _ *herald.Message) error {
			if o.Cents <= 0 {
				return herald.Permanent(errors.New("order " + o.ID + " has no amount"))
			}
			return herald.PublishJSON(ctx, pub, "invoices", o.ID, Invoice{Order: o.ID, Cents: o.Cents})
		}))
	}()
	return s, nil
}

func (s *billing) Stop() error {
	err := errors.Join(s.sub.Close(), <-s.done)
	return errors.Join(err, s.pub.Close())
}

// TestBilling is the service test of the package documentation.
func TestBilling(t *testing.T) {
	ctx := context.Background()
	h := heraldtest.New(t)
	svc, err := startBilling(ctx, h.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	pub, _ := publisher.Open(ctx, h.URL())
	defer pub.Close()
	h.WaitSubscribed(ctx, "orders", "billing")
	herald.PublishJSON(ctx, pub, "orders", "o-1", Order{ID: "o-1", Cents: 1250})
	herald.PublishJSON(ctx, pub, "orders", "o-2", Order{ID: "o-2"})
	if err := h.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	got := heraldtest.PublishedJSON[Invoice](t, h, "invoices")
	if len(got) != 1 || got[0].Cents != 1250 {
		t.Errorf("invoices %+v, want one of 1250", got) // exact: nothing else comes
	}
	if dl := h.DeadLettered("orders", "billing"); len(dl) != 1 {
		t.Errorf("dead-lettered %d orders, want o-2", len(dl))
	}
}
