package shop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/heraldkit/herald/examples/internal/appdb"
)

// Tables are the names of the example's tables, all starting with one
// prefix (so that test runs sharing a database do not meet).
type Tables struct{ Orders, Outbox, Payments, Inbox string }

// TablesWith returns the tables named prefix+"orders", +"outbox",
// +"payments" and +"inbox".
func TablesWith(prefix string) Tables {
	return Tables{prefix + "orders", prefix + "outbox", prefix + "payments", prefix + "inbox"}
}

// Payment is one row of the payments table: the effect of the payment
// service, written in the inbox's transaction.
type Payment struct {
	OrderID     string
	AmountCents int64
	Currency    string
	PaidBy      string // the payment process
	MessageID   string // the delivery that paid it
	PaidAt      time.Time
}

// CreateOrders creates the orders table unless it exists.
func CreateOrders(ctx context.Context, db *appdb.DB, t Tables) error {
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+t.Orders+` (
		id TEXT PRIMARY KEY, customer TEXT NOT NULL, amount_cents BIGINT NOT NULL, currency TEXT NOT NULL)`)
	return err
}

// CreatePayments creates the payments table unless it exists.
func CreatePayments(ctx context.Context, db *appdb.DB, t Tables) error {
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+t.Payments+` (
		order_id TEXT PRIMARY KEY, amount_cents BIGINT NOT NULL, currency TEXT NOT NULL,
		paid_by TEXT NOT NULL, message_id TEXT NOT NULL, paid_at BIGINT NOT NULL)`)
	return err
}

// InsertOrder writes o in tx.
func InsertOrder(ctx context.Context, tx *sql.Tx, db *appdb.DB, t Tables, o Order) error {
	_, err := tx.ExecContext(ctx, db.Q(`INSERT INTO `+t.Orders+` (id, customer, amount_cents, currency) VALUES (?, ?, ?, ?)`),
		o.ID, o.Customer, o.AmountCents, o.Currency)
	return err
}

// Pay writes p in tx unless its order was paid already (by another
// message: the inbox keeps one message from being handled twice, the
// key on the order ID one order from being paid twice). It returns true
// when this call paid, false and the existing row otherwise.
func Pay(ctx context.Context, tx *sql.Tx, db *appdb.DB, t Tables, p Payment) (paid bool, existing Payment, err error) {
	res, err := tx.ExecContext(ctx, db.Q(`INSERT INTO `+t.Payments+` (order_id, amount_cents, currency, paid_by, message_id, paid_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		p.OrderID, p.AmountCents, p.Currency, p.PaidBy, p.MessageID, p.PaidAt.UnixMilli())
	if err != nil {
		return false, Payment{}, fmt.Errorf("pay %s: %w", p.OrderID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err == nil, p, err
	}
	row := tx.QueryRowContext(ctx, db.Q(`SELECT order_id, amount_cents, currency, paid_by, message_id, paid_at FROM `+t.Payments+` WHERE order_id = ?`), p.OrderID)
	existing, err = scanPayment(row.Scan)
	return false, existing, err
}

// Payments returns every payment, by order ID.
func Payments(ctx context.Context, db *appdb.DB, t Tables) (map[string]Payment, error) {
	rows, err := db.QueryContext(ctx, `SELECT order_id, amount_cents, currency, paid_by, message_id, paid_at FROM `+t.Payments)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]Payment{}
	for rows.Next() {
		p, err := scanPayment(rows.Scan)
		if err != nil {
			return nil, err
		}
		out[p.OrderID] = p
	}
	return out, rows.Err()
}

// OrderIDs returns the IDs of the orders written.
func OrderIDs(ctx context.Context, db *appdb.DB, t Tables) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT id FROM `+t.Orders)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func scanPayment(scan func(...any) error) (Payment, error) {
	var p Payment
	var at int64
	if err := scan(&p.OrderID, &p.AmountCents, &p.Currency, &p.PaidBy, &p.MessageID, &at); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return p, fmt.Errorf("payment: %w", err)
		}
		return p, err
	}
	p.PaidAt = time.UnixMilli(at).UTC()
	return p, nil
}
