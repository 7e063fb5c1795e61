package wmtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
)

// routerRun runs a Watermill Router with its own middleware (Watermill's
// CorrelationID and Retry, and one of the test's) on b: a handler that
// fails the first time it sees each order, bills it to "invoices"
// through the Herald publisher, and a second handler that consumes the
// invoices. Every order must come out as exactly one invoice carrying
// the order's correlation ID and the test middleware's mark.
func routerRun(t *testing.T, b backend) {
	t.Parallel()
	b.hold(t)
	const n = 20
	run := watermill.NewShortUUID()
	orders, invoices := "orders-"+run, "invoices-"+run
	pub, billing := b.open(t, "billing-"+run)
	_, mail := b.open(t, "mail-"+run)
	for _, topic := range []string{orders, invoices} {
		for _, s := range []message.SubscribeInitializer{billing, mail} {
			if err := s.SubscribeInitialize(topic); err != nil {
				t.Fatal(err)
			}
		}
	}

	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	failed := map[string]bool{}
	runs := 0
	mark := func(h message.HandlerFunc) message.HandlerFunc {
		return func(m *message.Message) ([]*message.Message, error) {
			mu.Lock()
			runs++
			mu.Unlock()
			out, err := h(m)
			for _, o := range out {
				o.Metadata.Set("marked-by", "test-middleware")
			}
			return out, err
		}
	}
	router.AddMiddleware(middleware.CorrelationID, middleware.Retry{MaxRetries: 3, InitialInterval: 5 * time.Millisecond}.Middleware, mark)
	router.AddHandler("bill", orders, billing, invoices, pub, func(m *message.Message) ([]*message.Message, error) {
		mu.Lock()
		first := !failed[m.UUID]
		failed[m.UUID] = true
		mu.Unlock()
		if first {
			return nil, errors.New("billing unavailable")
		}
		return []*message.Message{message.NewMessage("invoice-"+m.UUID, m.Payload)}, nil
	})
	got := make(chan *message.Message, 2*n)
	router.AddConsumerHandler("mail", invoices, mail, func(m *message.Message) error {
		got <- m
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- router.Run(ctx) }()
	select {
	case <-router.Running():
	case err := <-errc:
		t.Fatalf("router: %v", err)
	}

	want := map[string]string{}
	for i := range n {
		m := message.NewMessage(fmt.Sprintf("order-%d-%s", i, run), []byte(fmt.Sprint(i)))
		middleware.SetCorrelationID("corr-"+m.UUID, m)
		want["invoice-"+m.UUID] = "corr-" + m.UUID
		if err := pub.Publish(orders, m); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	timeout := time.After(60 * time.Second)
	for len(seen) < n {
		select {
		case m := <-got:
			corr, ok := want[m.UUID]
			if !ok {
				t.Fatalf("unexpected invoice %s", m.UUID)
			}
			if c := middleware.MessageCorrelationID(m); c != corr {
				t.Errorf("%s: correlation ID %q, want %q", m.UUID, c, corr)
			}
			if m.Metadata.Get("marked-by") != "test-middleware" {
				t.Errorf("%s: the test middleware's mark is missing: %v", m.UUID, m.Metadata)
			}
			seen[m.UUID] = true
		case <-timeout:
			t.Fatalf("%d of %d invoices after 60s", len(seen), n)
		}
	}
	if err := router.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if runs < 2*n {
		t.Errorf("the bill handler ran %d times for %d orders that each fail once", runs, n)
	}
}

func TestRouterMem(t *testing.T) { routerRun(t, lookup(t, "mem://router-"+watermill.NewShortUUID())) }

func TestRouterEmbedded(t *testing.T) { routerRun(t, lookup(t, "embedded://?dir="+t.TempDir())) }

func TestRouterNATS(t *testing.T) { routerRun(t, lookup(t, brokerURL(t, "HERALD_TEST_NATS"))) }

func TestRouterKafka(t *testing.T) { routerRun(t, lookup(t, brokerURL(t, "HERALD_TEST_KAFKA"))) }

func TestRouterAMQP(t *testing.T) { routerRun(t, lookup(t, brokerURL(t, "HERALD_TEST_AMQP"))) }
