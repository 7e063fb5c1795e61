package main

import (
	"context"
	"database/sql"
	"time"

	"github.com/heraldkit/herald"
)

// The auto-cancel of an order not completed in time: when orders places
// an order it writes an OrderTimeout to the outbox with
// Store.PublishAfter (-cancel-after), in the order's transaction; the
// relay sends it once due, on any backend; its handler cancels the order
// if it is still placed (neither confirmed nor cancelled):
//
//	orders     on order.timeout, still placed -> order.expired (the order is "cancelling")
//	inventory  releases the reservation       -> inventory.released (the cancel step of orders)
//
// Each is a saga step (the inbox, the ledger, the outbox), so a timeout
// delivered twice cancels once, and one of a completed order does nothing.

// writeTimeout writes o's OrderTimeout to the outbox in tx, for delivery
// s.cancelAfter after placedAt (the delay counts from the call, which
// comes after placedAt: it is never delivered early). placeOrders calls
// it in the order's transaction: the order, its OrderPlaced and its
// timeout commit together or not at all, and nothing reaches the broker
// before the commit.
func (s *saga) writeTimeout(ctx context.Context, tx *sql.Tx, o OrderPlaced, placedAt time.Time) error {
	msg, err := herald.NewJSONMessage(OrderTimeout{OrderID: o.OrderID, PlacedAt: placedAt, After: s.cancelAfter.String()})
	if err != nil {
		return err
	}
	herald.SetKey(msg, o.OrderID)
	return s.store.PublishAfter(ctx, tx, s.topics.timeout, s.cancelAfter, msg)
}

// timeoutRoute (orders): on OrderTimeout, an order still placed is set to
// cancelling and OrderExpired is written to the outbox; a confirmed or
// cancelled one is left alone.
func (s *saga) timeoutRoute() route {
	return route{s.topics.timeout, "timeout", herald.JSON(func(ctx context.Context, t OrderTimeout, _ *herald.Message) error {
		reason := "not completed within " + t.After
		return s.step(ctx, "timeout", t.OrderID, func(tx *sql.Tx) (string, error) {
			state, err := s.state.orderState(ctx, tx, t.OrderID)
			if err != nil {
				return "", err
			}
			late := time.Since(t.PlacedAt).Round(time.Millisecond)
			switch state {
			case "placed":
				if err := s.state.setOrder(ctx, tx, t.OrderID, "cancelling"); err != nil {
					return "", err
				}
				s.out.say("orders: %s %s (timeout delivered %v after it was placed): cancelling\n", t.OrderID, reason, late)
				return "expired", nil
			case "":
				// Not from placeOrders: its timeout commits with the order.
				s.out.say("orders: %s timeout: no such order: nothing to cancel\n", t.OrderID)
				return "unknown", nil
			default:
				s.out.say("orders: %s timeout: already %s, left as it is\n", t.OrderID, state)
				return state, nil
			}
		}, func(ctx context.Context, tx *sql.Tx, result string) error {
			if result != "expired" {
				return nil
			}
			return s.publishJSON(ctx, tx, s.topics.expired, t.OrderID, OrderExpired{OrderID: t.OrderID, Reason: reason})
		})
	}), s.timedOut}
}

// expiredRoute (inventory): on OrderExpired, the reservation is released
// (the compensation) and InventoryReleased published, which makes orders
// cancel the order. It is the step "release" of the ledger, the one a
// declined card runs, so an order released for both reasons is released
// once. An order not reserved yet is released with nothing to put back,
// and reserve, when its OrderPlaced comes later, finds the release in the
// ledger and reserves nothing.
func (s *saga) expiredRoute() route {
	return route{s.topics.expired, "release", herald.JSON(func(ctx context.Context, e OrderExpired, _ *herald.Message) error {
		return s.step(ctx, "release", e.OrderID, func(tx *sql.Tx) (string, error) {
			id, err := s.state.releaseOrder(ctx, tx, e.OrderID)
			if err != nil {
				return "", err
			}
			if id == "" {
				s.out.say("inventory: %s expired before its reservation: nothing to release\n", e.OrderID)
			} else {
				s.out.say("inventory: released %s (%s: back in stock)\n", id, e.Reason)
			}
			return id, nil
		}, func(ctx context.Context, tx *sql.Tx, id string) error {
			return s.publishJSON(ctx, tx, s.topics.released, e.OrderID, InventoryReleased{OrderID: e.OrderID, ReservationID: id, Reason: e.Reason})
		})
	}), nil}
}

// timedOut notes that order's timeout was handled.
func (s *saga) timedOut(order string) {
	o := &s.orders
	o.mu.Lock()
	o.timedOut[order] = true
	o.mu.Unlock()
	s.wake()
}
