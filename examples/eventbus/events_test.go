package main

import (
	"context"
	"testing"

	"github.com/heraldkit/herald"
)

func TestRegistry(t *testing.T) {
	e, err := NewEvents("shop")
	if err != nil {
		t.Fatal(err)
	}
	if topic, ok := e.Topic("PaymentCompleted"); !ok || topic != "shop.payment.completed" || e.PaymentCompleted.Topic != topic {
		t.Errorf("Topic(PaymentCompleted) = %q, %v", topic, ok)
	}
	if typ, ok := e.Type("shop.inventory.reserved"); !ok || typ != "InventoryReserved" {
		t.Errorf("Type(shop.inventory.reserved) = %q, %v", typ, ok)
	}
	if _, ok := e.Type("shop.order.created.dlq"); ok {
		t.Error("a dead-letter topic maps to an event type")
	}
	if got := len(e.Topics()); got != 3 {
		t.Errorf("%d topics, want 3", got)
	}
	if _, err := Register[OrderCreated](e.Registry, "OrderCreated", "order.again"); err == nil {
		t.Error("a type name registered twice was accepted")
	}
	if _, err := Register[PaymentCompleted](e.Registry, "PaymentRefunded", "payment.completed"); err == nil {
		t.Error("a topic registered twice was accepted")
	}
}

// TestOnRefusesAnotherEventType: a message whose event-type header names
// another event is a permanent error (dead-lettered), not decoded.
func TestOnRefusesAnotherEventType(t *testing.T) {
	e, err := NewEvents("shop")
	if err != nil {
		t.Fatal(err)
	}
	called := false
	r := On(e.OrderCreated, func(context.Context, OrderCreated, *herald.Message) error { called = true; return nil })
	m, _ := herald.NewJSONMessage(PaymentCompleted{OrderID: "o-1"})
	m.Metadata.Set(EventTypeHeader, "PaymentCompleted")
	if err := r.Handler(context.Background(), m); !herald.IsPermanent(err) || called {
		t.Errorf("handler error %v (called %v), want a permanent error and no call", err, called)
	}
	m.Metadata.Set(EventTypeHeader, "OrderCreated")
	if err := r.Handler(context.Background(), m); err != nil || !called {
		t.Errorf("handler error %v (called %v), want the handler called", err, called)
	}
}
