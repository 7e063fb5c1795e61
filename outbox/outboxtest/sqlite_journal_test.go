package outboxtest

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald/outbox"
)

// In SQLite's rollback-journal modes (DELETE, the default, and the
// others but WAL) a write commits only once no reader holds the
// database. SQLite's busy handler waits holding PENDING, which lets no
// new reader in, so the readers drain and the write commits; a write
// tried again from scratch (the relay's fast retry, for WAL) drops
// PENDING each time and meets new readers: under overlapping readers
// the relay's claim failed for the whole busy timeout. The relay waits in
// SQLite's busy handler unless the database is in WAL mode.
func TestRelayWritesUnderReadersInRollbackJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	dsn := "file:" + path + "?_pragma=busy_timeout(1000)&_pragma=journal_mode(DELETE)"
	db := openDB(t, "sqlite", dsn)
	table := tableName()
	s := newStore(t, db, outbox.SQLite, table)
	write(t, db, s, "orders", msg("1", ""))
	p, target := newProbe(t)
	r, err := s.NewRelay(openPublisher(t, target))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE ctl (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	readers := openDB(t, "sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(DELETE)")
	// Two readers, each reading for 10 ms at a time, the second 5 ms
	// after the first: the reads overlap, as a service's do (the sleeps
	// are their work, not a wait for something).
	stop := make(chan struct{})
	reading := make(chan struct{}, 2) // a reader's first read is open
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 5 * time.Millisecond)
			ctx := context.Background()
			c, err := readers.Conn(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			first := true
			for {
				select {
				case <-stop:
					return
				default:
				}
				tx, err := c.BeginTx(ctx, nil)
				if err != nil {
					t.Error(err)
					return
				}
				var n int
				if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
					t.Error(err)
				}
				if first {
					reading <- struct{}{}
					first = false
				}
				time.Sleep(10 * time.Millisecond)
				tx.Rollback()
			}
		}()
	}
	<-reading
	<-reading
	// Control: the same readers, a write through SQLite's busy handler
	// commits.
	if _, err := db.Exec("INSERT INTO ctl VALUES (1)"); err != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("control write through the busy handler: %v", err)
	}
	n, err := r.RunOnce(context.Background())
	close(stop)
	wg.Wait()
	if err != nil || n != 1 {
		t.Fatalf("RunOnce with readers reading = %d, %v; want the row relayed (SQLite's busy handler lets the write in)", n, err)
	}
	p.waitDistinct(t, 1, 5*time.Second)
}
