package herald_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/memory"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

type order struct {
	ID     string  `json:"id"`
	Amount float64 `json:"amount"`
}

// Publish a JSON value and handle it as a typed value.
func Example() {
	ctx := context.Background()
	pub, err := publisher.Open(ctx, "mem://example")
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, "mem://example", subscriber.WithReady(func(t string) { ready <- t }))
	if err != nil {
		panic(err)
	}
	defer sub.Close()

	got := make(chan order, 1)
	subCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- sub.Subscribe(subCtx, "orders.created", herald.JSON(func(ctx context.Context, o order, m *herald.Message) error {
			got <- o
			return nil
		}))
	}()
	<-ready
	if err := herald.PublishJSON(ctx, pub, "orders.created", "order-1", order{ID: "order-1", Amount: 25.5}); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", <-got)
	stop()
	fmt.Println("Subscribe returned:", <-done)
	// Output:
	// {ID:order-1 Amount:25.5}
	// Subscribe returned: <nil>
}

func ExampleParseURL() {
	cfg, err := herald.ParseURL("amqp://svc:s3cret@rabbit:5672/shop?group=payments&prefetch=256")
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg.Scheme, cfg.Hosts, cfg.Path, cfg.Group, cfg.Options["prefetch"])
	fmt.Println(cfg) // the password is redacted
	// Output:
	// amqp [rabbit:5672] /shop payments 256
	// amqp://svc:REDACTED@rabbit:5672/shop?group=payments&prefetch=256
}

func ExampleParseURL_error() {
	_, err := herald.ParseURL("kafka://broker:99999")
	fmt.Println(err)
	fmt.Println(errors.Is(err, herald.ErrInvalidConfig))
	// Output:
	// herald: invalid configuration: key "hosts": value "broker:99999": has an invalid port (allowed: host, host:port or [ipv6]:port with port 1-65535, comma-separated)
	// true
}

func ExamplePermanent() {
	err := herald.Permanent(errors.New("amount is negative"))
	fmt.Println(herald.IsPermanent(err), herald.IsPermanent(errors.New("timeout")))
	// Output: true false
}

func ExampleSetKey() {
	m := herald.NewMessage([]byte("payload"))
	herald.SetKey(m, "customer-42")
	herald.SetHeader(m, "source", "checkout")
	fmt.Println(herald.Key(m), herald.Header(m, "source"), herald.ID(m) != "")
	// Output: customer-42 checkout true
}
