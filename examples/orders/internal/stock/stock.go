// Package stock is the inventory query of the orders example, by
// request/reply (package request): the order service asks "is SKU X in
// stock" before it accepts an order (Check), and the inventory service
// answers (Serve: a request.Responder subscribed in a group, so several
// inventory processes share the queries).
package stock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heraldkit/herald/request"
	"github.com/heraldkit/herald/subscriber"
)

// Topic is where the inventory service answers stock queries.
const Topic = "inventory.stock"

// Query asks whether Qty items of SKU are in stock.
type Query struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// Answer is the inventory service's reply.
type Answer struct {
	SKU       string `json:"sku"`
	Available int    `json:"available"`
	InStock   bool   `json:"in_stock"` // Available >= the query's Qty
}

// Levels is the inventory service's stock, by SKU. It is safe for
// concurrent use.
type Levels struct {
	mu  sync.Mutex
	qty map[string]int
}

// NewLevels returns levels holding qty (copied).
func NewLevels(qty map[string]int) *Levels {
	l := &Levels{qty: map[string]int{}}
	for k, v := range qty {
		l.qty[k] = v
	}
	return l
}

// answer answers q; an unknown SKU is an error (the requester gets it
// as a *request.RemoteError).
func (l *Levels) answer(q Query) (Answer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.qty[q.SKU]
	if !ok {
		return Answer{}, fmt.Errorf("unknown SKU %q", q.SKU)
	}
	return Answer{SKU: q.SKU, Available: n, InStock: n >= q.Qty}, nil
}

// Serve answers the stock queries of topic from levels until ctx ends:
// a request.Responder over c, subscribed with sub (open it in a group:
// each query is answered by one process of the group). work is how long
// finding the answer takes (a slow warehouse system: the requests whose
// deadline passes meanwhile are dropped, see request.Responder); said,
// when not nil, is told of every answer. It returns Subscribe's error.
func Serve(ctx context.Context, sub *subscriber.Subscriber, c *request.Client, topic string, levels *Levels, work time.Duration, said func(Query, Answer, error)) error {
	return sub.Subscribe(ctx, topic, request.Responder(c, func(ctx context.Context, q Query) (Answer, error) {
		if work > 0 {
			select {
			case <-time.After(work):
			case <-ctx.Done(): // the request's deadline (dropped) or the subscriber stopping
				return Answer{}, ctx.Err()
			}
		}
		a, err := levels.answer(q)
		if said != nil {
			said(q, a, err)
		}
		return a, err
	}))
}

// Check asks the inventory service whether q is in stock and waits for
// its answer at most timeout. Its errors are request's (see Explain).
func Check(ctx context.Context, c *request.Client, topic string, q Query, timeout time.Duration) (Answer, error) {
	return request.Request[Query, Answer](ctx, c, topic, q, request.Timeout(timeout), request.Key(q.SKU))
}

// Explain says in one line why a stock check failed, for the CLI: nobody
// answers (the backend can tell at once: request.ErrNoResponder), no
// answer within the timeout (request.ErrTimeout: the inventory service is
// down, where the backend cannot tell, or slow), or the inventory
// service's own error (*request.RemoteError).
func Explain(err error, topic string, timeout time.Duration) string {
	var remote *request.RemoteError
	switch {
	case errors.Is(err, request.ErrNoResponder):
		return fmt.Sprintf("no inventory service is running (nobody subscribes to %s): start cmd/inventory", topic)
	case errors.Is(err, request.ErrTimeout):
		return fmt.Sprintf("the inventory service did not answer within %v (not running, or too slow: see cmd/inventory -work)", timeout)
	case errors.As(err, &remote):
		return "the inventory service refused the query: " + remote.Message
	}
	return "the stock check failed: " + err.Error()
}
