package pgnotify_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/outbox"
)

// A delayed row survives a restart of the database: written due in 3 s,
// the private PostgreSQL stopped and started again before then (under a
// running relay whose queries fail meanwhile), the row is sent once, not
// before its due time, and within 2 s after it or after the restart if
// that took longer.
func TestDelayedSurvivesDatabaseRestart(t *testing.T) {
	pg := startPrivatePG(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newRig(t, ctx, pg.url())
	r.run(t, ctx, outbox.WithRetryDelay(100*time.Millisecond))
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(3 * time.Second)
	if err := r.store.PublishAt(ctx, tx, "orders", at, herald.NewMessage([]byte("delayed"))); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	pg.stop()
	pg.start()
	back := time.Now()
	if back.After(at) {
		t.Logf("the restart ended %v after the due time", back.Sub(at))
	}
	r.expect(t, "delayed", 30*time.Second)
	got := time.Now()
	if got.Before(at) {
		t.Fatalf("sent %v before its due time", at.Sub(got))
	}
	if late := got.Sub(later(at, back)); late > 2*time.Second {
		t.Errorf("sent %v after the due time or the restart, whichever was later; want <= 2s", late)
	}
	t.Logf("database back %v after the write; sent %v after the due time", back.Sub(at.Add(-3*time.Second)), got.Sub(at))
	if d := r.duplicates(); d != 0 {
		t.Errorf("%d duplicates", d)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
