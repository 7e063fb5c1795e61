package main

import "time"

// The saga's events, one topic each (see topics). Each carries what the
// next step needs, so no service reads another's state.

// OrderPlaced starts the saga (published by orders).
type OrderPlaced struct {
	OrderID string  `json:"order_id"`
	SKU     string  `json:"sku"`
	Qty     int     `json:"qty"`
	Amount  float64 `json:"amount"`
	Card    string  `json:"card"`
}

// InventoryReserved: the items are set aside (published by inventory).
type InventoryReserved struct {
	OrderPlaced
	ReservationID string `json:"reservation_id"`
}

// PaymentCharged: the card was charged (published by payments).
type PaymentCharged struct {
	OrderID   string  `json:"order_id"`
	PaymentID string  `json:"payment_id"`
	Amount    float64 `json:"amount"`
}

// PaymentFailed: the card was declined (published by payments); inventory
// compensates by releasing the reservation.
type PaymentFailed struct {
	InventoryReserved
	Reason string `json:"reason"`
}

// InventoryReleased: the reservation is undone (published by inventory);
// orders compensates by cancelling the order.
type InventoryReleased struct {
	OrderID       string `json:"order_id"`
	ReservationID string `json:"reservation_id"`
	Reason        string `json:"reason"`
}

// OrderTimeout is the delayed check of an order (written by orders to
// the outbox with Store.PublishAfter in the order's transaction, sent by
// the relay -cancel-after later): orders cancels the order if it is
// still not completed.
type OrderTimeout struct {
	OrderID  string    `json:"order_id"`
	PlacedAt time.Time `json:"placed_at"`
	After    string    `json:"after"` // the timeout, as a duration
}

// OrderExpired: the order was not completed in time (published by orders
// on its OrderTimeout); inventory compensates by releasing the
// reservation, which cancels the order (InventoryReleased).
type OrderExpired struct {
	OrderID string `json:"order_id"`
	Reason  string `json:"reason"`
}

// topics names the saga's topics under a prefix.
type topics struct {
	placed, reserved, charged, failed, released string
	timeout, expired                            string
}

func newTopics(prefix string) topics {
	return topics{
		placed:   prefix + ".order.placed",
		reserved: prefix + ".inventory.reserved",
		charged:  prefix + ".payment.charged",
		failed:   prefix + ".payment.failed",
		released: prefix + ".inventory.released",
		timeout:  prefix + ".order.timeout",
		expired:  prefix + ".order.expired",
	}
}
