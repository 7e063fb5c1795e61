package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/examples/internal/appdb"
)

// tables names the saga's tables, all under one prefix.
type tables struct{ ledger, stock, reservations, orders, outbox, inbox string }

func newTables(prefix string) tables {
	return tables{prefix + "ledger", prefix + "stock", prefix + "reservations", prefix + "orders", prefix + "outbox", prefix + "inbox"}
}

// state is the services' state in the database: the stock and the
// reservations (inventory), the orders (orders), and the ledger.
type state struct {
	db *appdb.DB
	t  tables
}

// create creates the tables unless they exist and puts stock widgets in
// stock unless the stock table has them already.
func (st *state) create(ctx context.Context, stock int) error {
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS ` + st.t.ledger + ` (order_id TEXT NOT NULL, step TEXT NOT NULL, result TEXT NOT NULL, PRIMARY KEY (order_id, step))`,
		`CREATE TABLE IF NOT EXISTS ` + st.t.stock + ` (sku TEXT PRIMARY KEY, qty BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + st.t.reservations + ` (order_id TEXT PRIMARY KEY, sku TEXT NOT NULL, qty BIGINT NOT NULL, reservation_id TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + st.t.orders + ` (order_id TEXT PRIMARY KEY, state TEXT NOT NULL)`,
	} {
		if _, err := st.db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	_, err := st.db.ExecContext(ctx, st.db.Q(`INSERT INTO `+st.t.stock+` (sku, qty) VALUES (?, ?) ON CONFLICT DO NOTHING`), "sku-widget", stock)
	return err
}

// reserve takes o's items from the stock and records the reservation.
func (st *state) reserve(ctx context.Context, tx *sql.Tx, o OrderPlaced, id string) error {
	res, err := tx.ExecContext(ctx, st.db.Q(`UPDATE `+st.t.stock+` SET qty = qty - ? WHERE sku = ? AND qty >= ?`), o.Qty, o.SKU, o.Qty)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		// A real saga would publish InventoryRejected here.
		return herald.Permanent(fmt.Errorf("reserve %s: %d x %s, not that many in stock", o.OrderID, o.Qty, o.SKU))
	}
	_, err = tx.ExecContext(ctx, st.db.Q(`INSERT INTO `+st.t.reservations+` (order_id, sku, qty, reservation_id) VALUES (?, ?, ?, ?)`), o.OrderID, o.SKU, o.Qty, id)
	return err
}

// release puts f's items back in stock and drops the reservation.
func (st *state) release(ctx context.Context, tx *sql.Tx, f PaymentFailed) error {
	if _, err := tx.ExecContext(ctx, st.db.Q(`UPDATE `+st.t.stock+` SET qty = qty + ? WHERE sku = ?`), f.Qty, f.SKU); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, st.db.Q(`DELETE FROM `+st.t.reservations+` WHERE order_id = ?`), f.OrderID)
	return err
}

// releaseOrder puts the items of order's reservation back in stock and
// drops it; it returns the reservation's ID, or "" when order holds none.
func (st *state) releaseOrder(ctx context.Context, tx *sql.Tx, order string) (string, error) {
	var sku, id string
	var qty int
	err := tx.QueryRowContext(ctx, st.db.Q(`SELECT sku, qty, reservation_id FROM `+st.t.reservations+` WHERE order_id = ?`), order).Scan(&sku, &qty, &id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", err
	}
	if _, err := tx.ExecContext(ctx, st.db.Q(`UPDATE `+st.t.stock+` SET qty = qty + ? WHERE sku = ?`), qty, sku); err != nil {
		return "", err
	}
	_, err = tx.ExecContext(ctx, st.db.Q(`DELETE FROM `+st.t.reservations+` WHERE order_id = ?`), order)
	return id, err
}

// orderState returns order's state as tx sees it ("" when there is no
// such order).
func (st *state) orderState(ctx context.Context, tx *sql.Tx, order string) (string, error) {
	var s string
	err := tx.QueryRowContext(ctx, st.db.Q(`SELECT state FROM `+st.t.orders+` WHERE order_id = ?`), order).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return s, err
}

// setOrder writes an order's state (placed, confirmed, cancelling,
// cancelled).
func (st *state) setOrder(ctx context.Context, tx *sql.Tx, order, state string) error {
	_, err := tx.ExecContext(ctx, st.db.Q(`INSERT INTO `+st.t.orders+` (order_id, state) VALUES (?, ?)
		ON CONFLICT (order_id) DO UPDATE SET state = excluded.state`), order, state)
	return err
}

// stockOf returns the widgets in stock.
func (st *state) stockOf(ctx context.Context, sku string) (int, error) {
	var n int
	err := st.db.QueryRowContext(ctx, st.db.Q(`SELECT qty FROM `+st.t.stock+` WHERE sku = ?`), sku).Scan(&n)
	return n, err
}

// orderStates returns the state of each order in ids and how many of
// them hold a reservation.
func (st *state) orderStates(ctx context.Context, ids []string) (map[string]string, int, error) {
	states := map[string]string{}
	held := 0
	for _, id := range ids {
		var s string
		if err := st.db.QueryRowContext(ctx, st.db.Q(`SELECT state FROM `+st.t.orders+` WHERE order_id = ?`), id).Scan(&s); err != nil {
			return nil, 0, fmt.Errorf("order %s: %w", id, err)
		}
		states[id] = s
		var n int
		if err := st.db.QueryRowContext(ctx, st.db.Q(`SELECT count(*) FROM `+st.t.reservations+` WHERE order_id = ?`), id).Scan(&n); err != nil {
			return nil, 0, err
		}
		held += n
	}
	return states, held, nil
}

// expired returns how many of the orders ids their timeout cancelled
// (the ledger's timeout step found them still placed).
func (st *state) expired(ctx context.Context, ids []string) (int, error) {
	n := 0
	for _, id := range ids {
		var c int
		if err := st.db.QueryRowContext(ctx, st.db.Q(`SELECT count(*) FROM `+st.t.ledger+` WHERE order_id = ? AND step = 'timeout' AND result = 'expired'`), id).Scan(&c); err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}
