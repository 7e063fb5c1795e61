package outboxtest

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald/outbox"
)

// A mark that fails (the database refuses it once, by a trigger) is tried
// again after the retry delay, the rows' leases renewed meanwhile: the
// acknowledged rows are not sent a second time once the lease expired.
func TestMarkFailureRetried(t *testing.T) {
	forEachStore(t, func(t *testing.T, d database, db *sql.DB, s *outbox.Store, table string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		flag := table + "_fail"
		stmts := []string{"CREATE TABLE " + flag + " (fail INTEGER NOT NULL)", "INSERT INTO " + flag + " VALUES (1)"}
		if d.dialect == outbox.PostgreSQL {
			stmts = append(stmts, `CREATE FUNCTION `+flag+`() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.sent_at IS NOT NULL AND (SELECT fail FROM `+flag+`) = 1 THEN RAISE EXCEPTION 'injected mark failure'; END IF;
	RETURN NEW;
END $$`, `CREATE TRIGGER `+flag+` BEFORE UPDATE ON `+table+` FOR EACH ROW EXECUTE FUNCTION `+flag+`()`)
		} else {
			stmts = append(stmts, `CREATE TRIGGER `+flag+` BEFORE UPDATE OF sent_at ON `+table+`
WHEN NEW.sent_at IS NOT NULL AND (SELECT fail FROM `+flag+`) = 1 BEGIN SELECT RAISE(ABORT, 'injected mark failure'); END`)
		}
		for _, q := range stmts {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		const n = 5
		write(t, db, s, "orders", numbered(0, n, func(int) string { return "k" })...)
		p, target := newProbe(t)
		markFailed := make(chan struct{}, 100)
		r, err := s.NewRelay(openPublisher(t, target), outbox.WithLease(300*time.Millisecond),
			outbox.WithRetryDelay(time.Second), outbox.WithPollInterval(5*time.Millisecond),
			outbox.WithOnError(func(err error) {
				if strings.Contains(err.Error(), "injected mark failure") {
					markFailed <- struct{}{}
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); r.Run(ctx) }() //nolint:errcheck // ends with ctx
		select {
		case <-markFailed:
		case <-time.After(30 * time.Second):
			t.Fatal("no mark failed")
		}
		// More than three leases pass before the mark is tried again.
		if _, err := db.Exec("UPDATE " + flag + " SET fail = 0"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for count(t, db, "SELECT count(*) FROM "+table+" WHERE sent_at IS NULL") > 0 {
			if time.Now().After(deadline) {
				t.Fatal("rows not marked sent after 30 s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		<-done
		p.mu.Lock()
		defer p.mu.Unlock()
		if got := p.byKey["k"]; p.total != n || len(got) != n {
			t.Fatalf("%d sends of %d messages (key k: %v); want each once", p.total, n, got)
		}
		if st, _ := r.Stats(context.Background()); st.Relayed != n || st.Failures < 1 {
			t.Fatalf("stats %+v; want %d relayed and the failure counted", st, n)
		}
	})
}
