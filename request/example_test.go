package request_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	_ "github.com/heraldkit/herald/adapters/memory"
	"github.com/heraldkit/herald/request"
	"github.com/heraldkit/herald/subscriber"
)

type StockQuery struct {
	SKU string `json:"sku"`
}

type Stock struct {
	SKU       string `json:"sku"`
	Available int    `json:"available"`
}

// The order service asks the inventory service for stock: the responder
// is an ordinary handler, subscribed in a group; the request waits for
// its typed reply on the client's one reply channel.
func ExampleRequest() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const url = "mem://example-request"

	// Inventory service.
	inventory, err := request.Open(ctx, url)
	if err != nil {
		panic(err)
	}
	defer inventory.Close()
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, url, subscriber.WithGroup("inventory"),
		subscriber.WithReady(func(topic string) { ready <- topic }))
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	stock := map[string]int{"A1": 3}
	go sub.Subscribe(ctx, "inventory.stock", request.Responder(inventory,
		func(ctx context.Context, q StockQuery) (Stock, error) {
			n, ok := stock[q.SKU]
			if !ok {
				return Stock{}, fmt.Errorf("unknown SKU %s", q.SKU)
			}
			return Stock{SKU: q.SKU, Available: n}, nil
		}))
	<-ready

	// Order service.
	orders, err := request.Open(ctx, url, request.WithTimeout(2*time.Second))
	if err != nil {
		panic(err)
	}
	defer orders.Close()
	s, err := request.Request[StockQuery, Stock](ctx, orders, "inventory.stock", StockQuery{SKU: "A1"})
	fmt.Println(s.Available, err)

	_, err = request.Request[StockQuery, Stock](ctx, orders, "inventory.stock", StockQuery{SKU: "Z9"})
	var remote *request.RemoteError
	fmt.Println(errors.As(err, &remote), remote.Message)

	_, err = request.Request[StockQuery, Stock](ctx, orders, "billing.quote", StockQuery{SKU: "A1"})
	fmt.Println(errors.Is(err, request.ErrNoResponder))
	// Output:
	// 3 <nil>
	// true unknown SKU Z9
	// true
}
