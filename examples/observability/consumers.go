package main

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldkit/herald"
)

// Paid is the payload of payments.completed.
type Paid struct {
	OrderID   string  `json:"order_id"`
	PaymentID string  `json:"payment_id"`
	Amount    float64 `json:"amount"`
}

// charge is the payments service: it consumes orders.placed (its
// CONSUMER span is a child of the producer span in the message), charges
// in a span of its own, and publishes payments.completed with the same
// ctx, so the next hop joins the same trace and correlation ID.
func (a *app) charge(ctx context.Context, o Order, _ *herald.Message) error {
	a.logger.InfoContext(ctx, "charging order", logAttrs(o)...)
	_, span := a.tracer.Start(ctx, "charge card", trace.WithAttributes(attribute.String("order.id", o.ID), attribute.Float64("order.amount", o.Amount)))
	time.Sleep(2 * time.Millisecond) // the payment gateway
	span.End()
	p := Paid{OrderID: o.ID, PaymentID: "pay-" + o.ID, Amount: o.Amount}
	if err := herald.PublishJSON(ctx, a.pub, a.topics.paid, o.ID, p); err != nil {
		return err
	}
	a.logger.InfoContext(ctx, "payment charged", "order_id", o.ID, "payment_id", p.PaymentID)
	return nil
}

// notify is the notifications service, the end of the trace.
func (a *app) notify(ctx context.Context, p Paid, _ *herald.Message) error {
	a.logger.InfoContext(ctx, "customer notified", "order_id", p.OrderID, "payment_id", p.PaymentID)
	select {
	case a.notified <- p.OrderID:
	default: // nobody counts (serving, not a demo)
	}
	return nil
}
