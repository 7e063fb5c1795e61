package outboxtest

import (
	"context"
	"errors"
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/outbox"
)

// AfterCommit's functions run once the inbox's transaction committed
// (its effect is visible to another connection then), not for a handler
// that failed (the message is handled again) nor for a redelivery the
// inbox skips; outside an inbox they run at once.
func TestInboxAfterCommit(t *testing.T) {
	forEach(t, func(t *testing.T, d database, table string) {
		ctx := context.Background()
		db := d.open(t)
		effects := table + "_effects"
		if _, err := db.Exec("CREATE TABLE " + effects + " (id TEXT NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		in, err := outbox.NewInbox(ctx, db, d.dialect, "payments", outbox.WithInboxTable(table+"_inbox"), outbox.WithInboxRetention(0))
		if err != nil {
			t.Fatal(err)
		}
		ph := "?"
		if d.dialect == outbox.PostgreSQL {
			ph = "$1"
		}
		var ran []string
		fail := true
		h := in.Middleware()(func(ctx context.Context, m *herald.Message) error {
			if _, err := outbox.TxFrom(ctx).ExecContext(ctx, "INSERT INTO "+effects+" (id) VALUES ("+ph+")", m.UUID); err != nil {
				return err
			}
			outbox.AfterCommit(ctx, func() {
				// Read on another connection: the effect is committed.
				ran = append(ran, m.UUID)
				if n := count(t, db, "SELECT count(*) FROM "+effects+" WHERE id = "+ph, m.UUID); n != 1 {
					t.Errorf("AfterCommit ran before the commit: %d committed rows", n)
				}
			})
			if fail {
				fail = false
				return errors.New("handler failed")
			}
			return nil
		})
		m := msg("order-1", "")
		if err := h(ctx, m); err == nil {
			t.Fatal("the handler's error was not returned")
		}
		if len(ran) != 0 {
			t.Fatalf("AfterCommit ran for a handler that failed: %v", ran)
		}
		if err := h(ctx, m.Copy()); err != nil {
			t.Fatal(err)
		}
		if err := h(ctx, m.Copy()); err != nil { // a redelivery, skipped
			t.Fatal(err)
		}
		if len(ran) != 1 || ran[0] != m.UUID {
			t.Fatalf("AfterCommit ran %v; want once for %s", ran, m.UUID)
		}
		outside := false
		outbox.AfterCommit(ctx, func() { outside = true })
		if !outside {
			t.Fatal("AfterCommit outside an inbox did not run at once")
		}
	})
}
