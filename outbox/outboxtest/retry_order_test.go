package outboxtest

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/outbox"
)

// Two relays on one table, a key whose rows fail once each at k0 and k3:
// while a failed row is held back for the retry delay (PostgreSQL: in its
// batch's transaction, then by lease_until after the commit) neither
// relay takes the key's next row. The key is sent in order, one send at a
// time: k0 (failed), k0, k1, k2, k3 (failed), k3, k4, k5.
func TestRetryHoldsBackKeyAcrossRelays(t *testing.T) {
	forEachStore(t, func(t *testing.T, d database, db *sql.DB, s *outbox.Store, table string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		write(t, db, s, "orders", msg("k0", "k"), msg("k1", "k"), msg("k2", "k"), msg("x0", ""))
		write(t, db, s, "orders", msg("k3", "k"), msg("k4", "k"), msg("x1", ""), msg("k5", "k"))
		p, target := newProbe(t)
		p.ackDelay = 20 * time.Millisecond
		failed := map[string]bool{}
		p.fail = func(m *herald.Message) error { // p.mu held
			pl := string(m.Payload)
			if (pl == "k0" || pl == "k3") && !failed[pl] {
				failed[pl] = true
				return errInjected
			}
			return nil
		}
		pub := openPublisher(t, target)
		var wg sync.WaitGroup
		for range 2 {
			r, err := newStore(t, d.open(t), d.dialect, table).NewRelay(pub,
				outbox.WithRetryDelay(300*time.Millisecond), outbox.WithPollInterval(5*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() { r.Run(ctx) }) //nolint:errcheck // ends with ctx
		}
		p.waitDistinct(t, 8, 30*time.Second)
		deadline := time.Now().Add(10 * time.Second)
		for count(t, db, "SELECT count(*) FROM "+table+" WHERE sent_at IS NULL") > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		p.mu.Lock()
		defer p.mu.Unlock()
		want := []string{"k0", "k0", "k1", "k2", "k3", "k3", "k4", "k5"}
		if got := p.byKey["k"]; !slices.Equal(got, want) || p.maxKey != 1 {
			t.Fatalf("key k sent %v, at most %d at once; want %v, one at a time", got, p.maxKey, want)
		}
	})
}

type injected struct{}

func (injected) Error() string { return "injected publish failure" }

var errInjected error = injected{}
