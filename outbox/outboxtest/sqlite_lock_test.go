package outboxtest

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald/outbox"
)

// sqliteAt opens the SQLite database at path with the busy timeout ms.
func sqliteAt(t *testing.T, path string, ms int) *sql.DB {
	t.Helper()
	return openDB(t, "sqlite", "file:"+path+"?_pragma=busy_timeout("+strconv.Itoa(ms)+")&_pragma=journal_mode(WAL)")
}

// holdLock takes SQLite's write lock on its own connection of db and
// returns the function that releases it (and when it did).
func holdLock(t *testing.T, db *sql.DB) func() time.Time {
	t.Helper()
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	return func() time.Time {
		if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
			t.Error(err)
		}
		at := time.Now()
		c.Close()
		return at
	}
}

// lockedRelay opens a SQLite database in WAL mode with the busy timeout
// ms (one connection: the relay's statements and the test's checks share
// it), one row in a fresh outbox and a relay to a probe, and takes the
// write lock on another handle; it returns the function that releases
// the lock.
func lockedRelay(t *testing.T, ms int) (*sql.DB, *outbox.Relay, *probe, func() time.Time) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "outbox.db")
	db := sqliteAt(t, path, ms)
	db.SetMaxOpenConns(1)
	s := newStore(t, db, outbox.SQLite, tableName())
	write(t, db, s, "orders", msg("1", ""))
	p, target := newProbe(t)
	r, err := s.NewRelay(openPublisher(t, target))
	if err != nil {
		t.Fatal(err)
	}
	return db, r, p, holdLock(t, sqliteAt(t, path, ms))
}

// A relay's claim waiting for SQLite's write lock takes it soon after the
// connection holding it lets go. SQLite's own busy handler sleeps 1, 2,
// 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms between its tries (328 ms in
// all for the first twelve): a lock released after 240 ms is taken at
// 328 ms at the earliest, 88 ms late. Under writers committing flat out,
// who take the lock again as soon as they released it, a relay that
// slept so long lost the race again and again and fell behind. The
// relay's connection keeps the application's busy timeout afterwards.
func TestRelayTakesSQLiteLockWhenReleased(t *testing.T) {
	db, r, p, release := lockedRelay(t, 10000)
	ran := make(chan error, 1)
	go func() {
		n, err := r.RunOnce(context.Background())
		if err == nil && n != 1 {
			err = fmt.Errorf("%d rows relayed; want 1", n)
		}
		ran <- err
	}()
	time.Sleep(240 * time.Millisecond) // the relay's claim waits for the lock meanwhile
	released := release()
	if err := <-ran; err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	p.waitDistinct(t, 1, 5*time.Second)
	p.mu.Lock()
	late := p.firstAt["1"].Sub(released)
	p.mu.Unlock()
	// The claim, then the publish: a claim that waited in SQLite's busy
	// handler is 88 ms late or more.
	if late > 60*time.Millisecond {
		t.Errorf("the row was sent %v after the write lock was released; want under 60 ms (SQLite's busy handler alone: at least 88 ms)", late)
	}
	var timeout int
	if err := db.QueryRow("PRAGMA busy_timeout").Scan(&timeout); err != nil {
		t.Fatal(err)
	}
	if timeout != 10000 {
		t.Errorf("busy_timeout of the relay's connection after RunOnce = %d; want the application's 10000", timeout)
	}
}

// The relay waits for SQLite's write lock no longer than the
// application's busy timeout, then fails with SQLite's error.
func TestRelayLockWaitBoundedByBusyTimeout(t *testing.T) {
	_, r, _, release := lockedRelay(t, 200)
	defer release()
	start := time.Now()
	n, err := r.RunOnce(context.Background())
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("RunOnce with the write lock held throughout = %d, %v; want SQLite's database-is-locked error", n, err)
	}
	if took < 200*time.Millisecond || took > 2*time.Second {
		t.Errorf("RunOnce gave up after %v; want about the busy timeout, 200 ms", took)
	}
}
