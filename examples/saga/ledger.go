package main

import (
	"context"
	"database/sql"
	"errors"

	"github.com/heraldkit/herald/examples/internal/appdb"
)

// Ledger makes saga steps idempotent by step: it records the result of
// each step of each order, keyed by order ID and step name, in the
// transaction of the step's effect and next event (the inbox's, see
// step). A redelivery of one message is skipped whole by the inbox; the
// ledger catches a second message of one step (an event published twice),
// which finds the result and repeats only what follows the effect.
type Ledger struct {
	db    *appdb.DB
	table string
}

// Once runs effect for (order, step) in tx unless a result is recorded,
// and records its result in tx when it succeeds. It returns the result
// and whether this call applied the effect. Two transactions running one
// step at once both apply it, and the second fails on the key at its
// insert: it is rolled back with its effect, and its redelivery finds the
// result.
func (l *Ledger) Once(ctx context.Context, tx *sql.Tx, order, step string, effect func() (string, error)) (result string, applied bool, err error) {
	err = tx.QueryRowContext(ctx, l.db.Q(`SELECT result FROM `+l.table+` WHERE order_id = ? AND step = ?`), order, step).Scan(&result)
	switch {
	case err == nil:
		return result, false, nil
	case !errors.Is(err, sql.ErrNoRows):
		return "", false, err
	}
	if result, err = effect(); err != nil {
		return "", false, err
	}
	if _, err := tx.ExecContext(ctx, l.db.Q(`INSERT INTO `+l.table+` (order_id, step, result) VALUES (?, ?, ?)`), order, step, result); err != nil {
		return "", false, err
	}
	return result, true, nil
}

// Has reports whether a result of (order, step) is recorded, as tx sees
// it: reserve asks whether the order's reservation was released (by its
// timeout) before it came to be made.
func (l *Ledger) Has(ctx context.Context, tx *sql.Tx, order, step string) (bool, error) {
	var result string
	err := tx.QueryRowContext(ctx, l.db.Q(`SELECT result FROM `+l.table+` WHERE order_id = ? AND step = ?`), order, step).Scan(&result)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	}
	return false, err
}
