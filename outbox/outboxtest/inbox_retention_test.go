package outboxtest

import (
	"context"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/outbox"
)

// Inbox retention: records older than the retention are deleted (Purge,
// and in the background by the middleware), only the inbox's own group's;
// a redelivery of a message whose record was deleted is handled again
// (the documented trade-off), one still recorded is skipped; retention 0
// keeps every record.
func TestInboxRetention(t *testing.T) {
	forEach(t, func(t *testing.T, d database, table string) {
		ctx := context.Background()
		db := d.open(t)
		inboxTable := table + "_inbox"
		open := func(group string, retention time.Duration) *outbox.Inbox {
			in, err := outbox.NewInbox(ctx, db, d.dialect, group, outbox.WithInboxTable(inboxTable), outbox.WithInboxRetention(retention))
			if err != nil {
				t.Fatal(err)
			}
			return in
		}
		ph := func(i int) string {
			if d.dialect == outbox.PostgreSQL {
				return "$" + string(rune('0'+i))
			}
			return "?"
		}
		// age makes the record of id (in group) look handled two days ago.
		age := func(group, id string) {
			t.Helper()
			var at any = time.Now().Add(-48 * time.Hour).UnixMilli()
			if d.dialect == outbox.PostgreSQL {
				at = time.Now().Add(-48 * time.Hour)
			}
			res, err := db.Exec("UPDATE "+inboxTable+" SET handled_at = "+ph(1)+" WHERE group_name = "+ph(2)+" AND message_id = "+ph(3), at, group, id)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("no record of %s in %s", id, group)
			}
		}
		recorded := func(group, id string) bool {
			t.Helper()
			return count(t, db, "SELECT count(*) FROM "+inboxTable+" WHERE group_name = "+ph(1)+" AND message_id = "+ph(2), group, id) == 1
		}
		calls := 0
		handler := func(context.Context, *herald.Message) error { calls++; return nil }

		// Recorded by inboxes that never purge (retention 0), so that no
		// background purge races with the test.
		old, fresh := msg("old", ""), msg("fresh", "")
		for _, m := range []*herald.Message{old, fresh} {
			if err := open("payments", 0).Middleware()(handler)(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		other := open("audit", 0)
		if err := other.Middleware()(handler)(ctx, old); err != nil {
			t.Fatal(err)
		}
		age("payments", old.UUID)
		age("audit", old.UUID)
		in := open("payments", 24*time.Hour)
		h := in.Middleware()(handler)
		n, err := in.Purge(ctx)
		if err != nil || n != 1 {
			t.Fatalf("Purge = %d, %v; want 1 (payments' old record)", n, err)
		}
		if recorded("payments", old.UUID) || !recorded("payments", fresh.UUID) || !recorded("audit", old.UUID) {
			t.Fatalf("after Purge: old %v fresh %v audit's old %v; want false true true",
				recorded("payments", old.UUID), recorded("payments", fresh.UUID), recorded("audit", old.UUID))
		}
		calls = 0
		for _, m := range []*herald.Message{old, fresh} { // redelivered
			if err := h(ctx, m.Copy()); err != nil {
				t.Fatal(err)
			}
		}
		if calls != 1 {
			t.Fatalf("redeliveries after the purge: %d handled; want 1 (the purged one again, the fresh one skipped)", calls)
		}

		// Retention 0 keeps everything.
		if n, err := open("audit", 0).Purge(ctx); err != nil || n != 0 || !recorded("audit", old.UUID) {
			t.Fatalf("retention 0: Purge = %d, %v; the record must stay", n, err)
		}

		// The middleware purges in the background: a new inbox's first
		// message starts it.
		age("payments", fresh.UUID)
		bg := open("payments", 24*time.Hour)
		next := msg("next", "")
		if err := bg.Middleware()(handler)(ctx, next); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for recorded("payments", fresh.UUID) {
			if time.Now().After(deadline) {
				t.Fatal("the middleware did not purge the old record within 30 s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if !recorded("payments", next.UUID) || !recorded("audit", old.UUID) {
			t.Fatal("the background purge deleted a record it must keep")
		}
	})
}
