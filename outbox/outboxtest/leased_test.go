package outboxtest

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/outbox"
)

// Rows leased by a dead relay hold back only their own keys, however
// many rows of those keys wait before every other row: here 150 keys
// whose first rows are leased (more than one claim looks at), their
// second rows next, then 300 rows of ten other keys and no key. One
// RunOnce sends exactly those 300, and no row of a held key.
func TestLeasedRowsHoldBackOnlyTheirKeys(t *testing.T) {
	forEachStore(t, func(t *testing.T, d database, db *sql.DB, s *outbox.Store, table string) {
		var front, back []*herald.Message
		for round := range 2 {
			for k := range 150 {
				front = append(front, msg(fmt.Sprintf("a%d-%d", k, round), fmt.Sprintf("a-%03d", k)))
			}
		}
		for j := range 300 {
			key := "b-" + strconv.Itoa(j%10)
			if j%4 == 0 {
				key = ""
			}
			back = append(back, msg("b"+strconv.Itoa(j), key))
		}
		write(t, db, s, "orders", front...)
		write(t, db, s, "orders", back...)
		until := "now() + interval '1 hour'"
		if d.dialect == outbox.SQLite {
			until = "9999999999999"
		}
		// A relay that died holding the first row of every a- key.
		if _, err := db.Exec("UPDATE " + table + " SET lease_owner = 'dead', lease_until = " + until +
			" WHERE seq IN (SELECT seq FROM " + table + " ORDER BY seq LIMIT 150)"); err != nil {
			t.Fatal(err)
		}
		p, target := newProbe(t)
		r, err := s.NewRelay(openPublisher(t, target), outbox.WithBatch(32))
		if err != nil {
			t.Fatal(err)
		}
		n, err := r.RunOnce(context.Background())
		if err != nil || n != len(back) {
			t.Errorf("RunOnce = %d, %v; want %d (the rows of the keys not held, and the keyless), nil", n, err, len(back))
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, m := range back {
			if p.sends[m.UUID] != 1 {
				t.Errorf("%s (key %q) sent %d times, want once", m.Payload, herald.Key(m), p.sends[m.UUID])
				break
			}
		}
		for _, pl := range p.payloads {
			if strings.HasPrefix(pl, "a") {
				t.Errorf("%s sent while its key's first row is leased", pl)
				break
			}
		}
	})
}
