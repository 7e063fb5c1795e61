package outboxtest

import (
	"context"
	"database/sql"
	"net/url"
	"slices"
	"testing"

	"github.com/heraldkit/herald/outbox"
)

// withParam adds the query parameter k=v to the connection URL u.
func withParam(u, k, v string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := p.Query()
	q.Set(k, v)
	p.RawQuery = q.Encode()
	return p.String()
}

// PostgreSQL claims rows by locking them (FOR UPDATE SKIP LOCKED in a
// transaction kept open while the batch is in flight). A key's first row
// locked by another relay (here a transaction holding it, as a relay's
// batch in flight does) holds back the key's later rows: SKIP LOCKED
// passes over the locked row, and the relay must not take the next one
// of its key. The other keys and the keyless rows go. Once the lock is
// released without a mark (that relay died), the key's rows go, in order.
func TestLockedRowHoldsBackItsKey(t *testing.T) {
	forEachStore(t, func(t *testing.T, d database, db *sql.DB, s *outbox.Store, table string) {
		if d.dialect != outbox.PostgreSQL {
			t.Skip("row locks: PostgreSQL only (SQLite leases rows: TestLeasedRowsHoldBackOnlyTheirKeys)")
		}
		ctx := context.Background()
		write(t, db, s, "orders", msg("k0", "k"), msg("j0", "j"), msg("k1", "k"), msg("x", ""), msg("j1", "j"), msg("k2", "k"))
		other, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Rollback() //nolint:errcheck
		var seq int64
		if err := other.QueryRowContext(ctx, "SELECT seq FROM "+table+" WHERE key = 'k' ORDER BY seq LIMIT 1 FOR UPDATE").Scan(&seq); err != nil {
			t.Fatal(err)
		}
		p, target := newProbe(t)
		r, err := s.NewRelay(openPublisher(t, target))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := r.RunOnce(ctx); err != nil || n != 3 {
			t.Fatalf("RunOnce with k's first row locked = %d, %v; want 3 (j0, j1, x), nil", n, err)
		}
		p.mu.Lock()
		if got := p.byKey["k"]; len(got) != 0 {
			t.Errorf("key k sent %v while its first row was locked by another transaction; want nothing", got)
		}
		if got := p.byKey["j"]; !slices.Equal(got, []string{"j0", "j1"}) {
			t.Errorf("key j sent %v; want [j0 j1]", got)
		}
		p.mu.Unlock()
		if err := other.Rollback(); err != nil {
			t.Fatal(err)
		}
		if n, err := r.RunOnce(ctx); err != nil || n != 3 {
			t.Fatalf("RunOnce after the lock was released = %d, %v; want 3 (k0, k1, k2), nil", n, err)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if got := p.byKey["k"]; !slices.Equal(got, []string{"k0", "k1", "k2"}) {
			t.Errorf("key k sent %v; want [k0 k1 k2]", got)
		}
	})
}
