package outboxtest

import (
	"context"
	"errors"
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/outbox"
)

// The inbox skips a redelivered message (the handler's effect happens
// once), rolls back the effect and the outgoing message of a failed
// handler, and handles that message again on its redelivery.
func TestInbox(t *testing.T) {
	forEach(t, func(t *testing.T, d database, table string) {
		ctx := context.Background()
		db := d.open(t)
		effects := table + "_effects"
		if _, err := db.Exec("CREATE TABLE " + effects + " (id TEXT NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		out := newStore(t, db, d.dialect, table)
		in, err := outbox.NewInbox(ctx, db, d.dialect, "payments", outbox.WithInboxTable(table+"_inbox"))
		if err != nil {
			t.Fatal(err)
		}
		ph := "?"
		if d.dialect == outbox.PostgreSQL {
			ph = "$1"
		}
		calls := 0
		failNext := false
		h := in.Middleware()(func(ctx context.Context, m *herald.Message) error {
			calls++
			tx := outbox.TxFrom(ctx)
			if tx == nil {
				return errors.New("no tx")
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO "+effects+" (id) VALUES ("+ph+")", m.UUID); err != nil {
				return err
			}
			if err := out.Publish(ctx, tx, "charged", msg("charged-"+m.UUID, "")); err != nil {
				return err
			}
			if failNext {
				failNext = false
				return errors.New("handler failed")
			}
			return nil
		})
		m := msg("order-1", "")
		if err := h(ctx, m); err != nil {
			t.Fatal(err)
		}
		if err := h(ctx, m.Copy()); err != nil { // redelivered
			t.Fatal(err)
		}
		if calls != 1 || count(t, db, "SELECT count(*) FROM "+effects) != 1 || count(t, db, "SELECT count(*) FROM "+table) != 1 {
			t.Fatalf("after a redelivery: %d calls, %d effects, %d outbox rows; want 1 each", calls,
				count(t, db, "SELECT count(*) FROM "+effects), count(t, db, "SELECT count(*) FROM "+table))
		}
		m2 := msg("order-2", "")
		failNext = true
		if err := h(ctx, m2); err == nil {
			t.Fatal("the handler's error was not returned")
		}
		if n := count(t, db, "SELECT count(*) FROM "+effects+" WHERE id = "+ph, m2.UUID); n != 0 {
			t.Fatalf("a failed handler's effect was kept (%d rows)", n)
		}
		if n := count(t, db, "SELECT count(*) FROM "+table); n != 1 {
			t.Fatalf("a failed handler's outbox message was kept (%d rows)", n)
		}
		if err := h(ctx, m2); err != nil { // redelivered after the failure
			t.Fatal(err)
		}
		if calls != 3 || count(t, db, "SELECT count(*) FROM "+effects+" WHERE id = "+ph, m2.UUID) != 1 {
			t.Fatalf("the redelivery after a failure: %d calls; want the handler run again, its effect once", calls)
		}
		// Another group handles the same message itself.
		other, err := outbox.NewInbox(ctx, db, d.dialect, "audit", outbox.WithInboxTable(table+"_inbox"))
		if err != nil {
			t.Fatal(err)
		}
		ran := false
		if err := other.Middleware()(func(context.Context, *herald.Message) error { ran = true; return nil })(ctx, m); err != nil || !ran {
			t.Fatalf("another group: ran %v, %v", ran, err)
		}
		// A message without an ID is refused, permanently.
		noID := msg("x", "")
		noID.UUID = ""
		if err := h(ctx, noID); !errors.Is(err, outbox.ErrNoID) || !herald.IsPermanent(err) {
			t.Fatalf("no ID: %v", err)
		}
	})
}

// A handler that panics under the inbox leaves no transaction open (on
// SQLite an open one would hold the write lock and block every writer):
// its effect and the inbox record roll back, and the redelivery runs it.
func TestInboxRollsBackOnPanic(t *testing.T) {
	forEach(t, func(t *testing.T, d database, table string) {
		ctx := context.Background()
		db := d.open(t)
		// Retention 0: no background purge holding a connection while
		// the test counts those in use.
		in, err := outbox.NewInbox(ctx, db, d.dialect, "payments", outbox.WithInboxTable(table+"_inbox"), outbox.WithInboxRetention(0))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("CREATE TABLE " + table + "_effects (id TEXT NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		calls := 0
		h := in.Middleware()(func(ctx context.Context, m *herald.Message) error {
			calls++
			if _, err := outbox.TxFrom(ctx).ExecContext(ctx, "INSERT INTO "+table+"_effects (id) VALUES ('x')"); err != nil {
				return err
			}
			if calls == 1 {
				panic("handler panicked")
			}
			return nil
		})
		m := msg("order-1", "")
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("the panic did not reach the caller")
				}
			}()
			h(ctx, m) //nolint:errcheck // panics
		}()
		if n := db.Stats().InUse; n != 0 {
			t.Fatalf("%d connections still in use after the panic: its transaction was left open", n)
		}
		if n := count(t, db, "SELECT count(*) FROM "+table+"_effects"); n != 0 {
			t.Fatalf("the panicked handler's effect was kept (%d rows)", n)
		}
		if err := h(ctx, m.Copy()); err != nil || calls != 2 {
			t.Fatalf("the redelivery after the panic: %v, %d calls; want it handled", err, calls)
		}
		if n := count(t, db, "SELECT count(*) FROM "+table+"_effects"); n != 1 {
			t.Fatalf("%d effects after the redelivery, want 1", n)
		}
	})
}
