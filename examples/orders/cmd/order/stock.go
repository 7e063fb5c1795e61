package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/heraldkit/herald/examples/orders/internal/shop"
	"github.com/heraldkit/herald/examples/orders/internal/stock"
	"github.com/heraldkit/herald/request"
)

// stockChecks counts the outcomes of the stock checks of -check-stock.
type stockChecks struct {
	inStock, outOfStock, unanswered int
	why                             string // the last unanswered check's reason
}

// check asks the inventory service whether o's SKU is in stock and says
// the outcome: true when it is (o is accepted); false when it is not, or
// when the inventory service did not answer (no responder, no answer
// within timeout, its error: not accepted, the reason in one line). The
// error is the caller's cancellation only.
func (c *stockChecks) check(ctx context.Context, out io.Writer, inv *request.Client, topic string, timeout time.Duration, o shop.Order) (bool, error) {
	a, err := stock.Check(ctx, inv, topic, stock.Query{SKU: o.SKU, Qty: o.Qty}, timeout)
	switch {
	case ctx.Err() != nil:
		return false, ctx.Err()
	case err != nil:
		c.unanswered++
		c.why = stock.Explain(err, topic, timeout)
		fmt.Fprintf(out, "order: not accepted %s (%d x %s): %s\n", o.ID, o.Qty, o.SKU, c.why)
		return false, nil
	case !a.InStock:
		c.outOfStock++
		fmt.Fprintf(out, "order: refused %s: %s out of stock (%d available, %d wanted)\n", o.ID, o.SKU, a.Available, o.Qty)
		return false, nil
	}
	c.inStock++
	fmt.Fprintf(out, "order: %s: %d x %s in stock (%d available)\n", o.ID, o.Qty, o.SKU, a.Available)
	return true, nil
}

// summary says the checks' outcomes, and returns an error when some
// orders were not accepted for want of an answer (the process exits 1).
func (c *stockChecks) summary(out io.Writer, n int) error {
	fmt.Fprintf(out, "order: stock checks: %d in stock, %d refused (out of stock), %d not accepted (no answer)\n", c.inStock, c.outOfStock, c.unanswered)
	if c.unanswered > 0 {
		return fmt.Errorf("%d of %d orders not accepted: %s", c.unanswered, n, c.why)
	}
	return nil
}
