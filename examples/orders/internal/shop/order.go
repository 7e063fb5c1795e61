// Package shop holds what the services of the orders example share: the
// order event, its topic, and the tables of orders and payments.
package shop

import (
	"fmt"
	"regexp"
)

// Topic is where the order service publishes; the httpproducer example
// publishes the same events there.
const Topic = "orders.created"

// Order is the orders.created event (JSON), keyed by ID.
type Order struct {
	ID          string `json:"id"`
	Customer    string `json:"customer"`
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency"`
	// SKU and Qty are what is ordered, when the order service checked
	// the stock (-check-stock); empty otherwise.
	SKU string `json:"sku,omitempty"`
	Qty int    `json:"qty,omitempty"`
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Validate rejects an order no service can process (a consumer must not
// trust what it reads from a topic).
func (o Order) Validate() error {
	switch {
	case !idPattern.MatchString(o.ID):
		return fmt.Errorf("order id %q: must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", o.ID)
	case o.AmountCents <= 0:
		return fmt.Errorf("order %s: amount_cents %d must be positive", o.ID, o.AmountCents)
	}
	return nil
}
