package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/heraldkit/herald"
)

// EventTypeHeader is the metadata header naming a message's event type.
const EventTypeHeader = "event-type"

// The domain events. Each travels as JSON on a topic of its own.

// OrderCreated is published by the orders service when a customer orders.
type OrderCreated struct {
	OrderID  string  `json:"order_id"`
	Customer string  `json:"customer"`
	Items    []Item  `json:"items"`
	Total    float64 `json:"total"`
}

// Item is one line of an order.
type Item struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// InventoryReserved is published by the inventory service once the items
// of an order are set aside.
type InventoryReserved struct {
	OrderID       string `json:"order_id"`
	ReservationID string `json:"reservation_id"`
	Items         []Item `json:"items"`
}

// PaymentCompleted is published by the payments service once an order is
// paid.
type PaymentCompleted struct {
	OrderID   string  `json:"order_id"`
	PaymentID string  `json:"payment_id"`
	Amount    float64 `json:"amount"`
}

// Event is one kind of event: its type name and topic, tied at compile time
// to its Go type T. Publish and On take an Event[T], so an OrderCreated can
// be neither published to, nor expected from, another event's topic.
type Event[T any] struct {
	Type  string
	Topic string
}

// Registry maps event type names to topics and back. Register fills it;
// it refuses a type name or topic registered twice.
type Registry struct {
	prefix  string
	byType  map[string]string
	byTopic map[string]string
}

// NewRegistry returns an empty registry whose topics start with prefix
// (a run, tenant or environment name).
func NewRegistry(prefix string) *Registry {
	return &Registry{prefix: prefix, byType: map[string]string{}, byTopic: map[string]string{}}
}

// Register records the event type name typ for the Go type T on the topic
// prefix.name and returns its Event.
func Register[T any](r *Registry, typ, name string) (Event[T], error) {
	topic := r.prefix + "." + name
	if t, ok := r.byType[typ]; ok {
		return Event[T]{}, fmt.Errorf("event type %q: already registered on topic %q", typ, t)
	}
	if t, ok := r.byTopic[topic]; ok {
		return Event[T]{}, fmt.Errorf("topic %q: already carries event type %q", topic, t)
	}
	r.byType[typ], r.byTopic[topic] = topic, typ
	return Event[T]{Type: typ, Topic: topic}, nil
}

// Topic returns the topic of the event type typ.
func (r *Registry) Topic(typ string) (string, bool) {
	t, ok := r.byType[typ]
	return t, ok
}

// Type returns the event type carried on topic.
func (r *Registry) Type(topic string) (string, bool) {
	t, ok := r.byTopic[topic]
	return t, ok
}

// Topics returns every registered topic, sorted.
func (r *Registry) Topics() []string {
	ts := make([]string, 0, len(r.byTopic))
	for t := range r.byTopic {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// Events are the events of this example.
type Events struct {
	*Registry
	OrderCreated      Event[OrderCreated]
	InventoryReserved Event[InventoryReserved]
	PaymentCompleted  Event[PaymentCompleted]
}

// NewEvents registers the example's events under prefix.
func NewEvents(prefix string) (*Events, error) {
	e := &Events{Registry: NewRegistry(prefix)}
	var err error
	if e.OrderCreated, err = Register[OrderCreated](e.Registry, "OrderCreated", "order.created"); err != nil {
		return nil, err
	}
	if e.InventoryReserved, err = Register[InventoryReserved](e.Registry, "InventoryReserved", "inventory.reserved"); err != nil {
		return nil, err
	}
	if e.PaymentCompleted, err = Register[PaymentCompleted](e.Registry, "PaymentCompleted", "payment.completed"); err != nil {
		return nil, err
	}
	return e, nil
}

// Publish publishes v as the event e, keyed by key (the order ID, so the
// events of one order keep their order).
func Publish[T any](ctx context.Context, p herald.Publisher, e Event[T], key string, v T) error {
	m, err := herald.NewJSONMessage(v)
	if err != nil {
		return err
	}
	m.Metadata.Set(EventTypeHeader, e.Type)
	herald.SetKey(m, key)
	return p.Publish(ctx, e.Topic, m)
}

// Route is a topic and the handler for its events.
type Route struct {
	Topic   string
	Handler herald.Handler
}

// On returns the route handling the event e with fn. A payload that does
// not decode into T, or a message whose event-type header names another
// event, is a herald.Permanent error: dead-lettered, never retried.
func On[T any](e Event[T], fn func(ctx context.Context, v T, m *herald.Message) error) Route {
	decode := herald.JSON(fn)
	return Route{Topic: e.Topic, Handler: func(ctx context.Context, m *herald.Message) error {
		if typ := m.Metadata.Get(EventTypeHeader); typ != "" && typ != e.Type {
			return herald.Permanent(fmt.Errorf("message %s on %q: event type %q, want %q", m.UUID, e.Topic, typ, e.Type))
		}
		return decode(ctx, m)
	}}
}
