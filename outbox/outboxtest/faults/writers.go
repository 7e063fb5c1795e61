package faults

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/outbox"
)

// mix is what the writers' transactions do, as fractions of transactions.
type mix struct {
	rollback  float64       // rolled back instead of committed
	savepoint float64       // the second half written after a SAVEPOINT and rolled back to it, the first half committed
	slow      float64       // held open for slowFor (up to twice) before they end, while the relays claim
	slowFor   time.Duration //
}

// defaultMix rolls back one transaction in five.
var defaultMix = mix{rollback: 0.2}

// rollbackMix is the rollback case's: half the transactions rolled back,
// a fifth committed without the part after a savepoint, and on
// PostgreSQL a tenth held open for 200-400 ms while the relays claim
// (on SQLite an open write transaction holds the one write lock: every
// other writer, and the relay's marks, would only wait for it).
func rollbackMix(pg bool) mix {
	m := mix{rollback: 0.5, savepoint: 0.2}
	if pg {
		m.slow, m.slowFor = 0.1, 200*time.Millisecond
	}
	return m
}

// txMessages is the most messages one transaction writes (1..txMessages,
// 4 on average).
const txMessages = 7

// writers run transactions that publish through the outbox at rate
// messages per second (paced; a slot not taken while every writer waits
// on the database is skipped, so an outage causes no burst afterwards),
// keyed over keys keys (one message in four without a key).
type writers struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startWriters(db *sql.DB, s *outbox.Store, topic string, n, rate, keys int, m mix, t *tally) *writers {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writers{cancel: cancel}
	slots := make(chan struct{}, n)
	w.wg.Add(1)
	go func() { // pacer: one slot per transaction
		defer w.wg.Done()
		defer close(slots)
		txRate := float64(rate) / float64(1+txMessages) * 2
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		start, done := time.Now(), 0
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tk.C:
				for due := int(now.Sub(start).Seconds() * txRate); done < due; done++ {
					select {
					case slots <- struct{}{}:
					default: // every writer busy: skip the slot
					}
				}
			}
		}
	}()
	payload := make([]byte, 256)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	for range n {
		w.wg.Go(func() {
			for range slots {
				writeTx(db, s, topic, keys, m, payload, t)
			}
		})
	}
	return w
}

// stop ends the writers and waits for the transactions under way.
func (w *writers) stop() {
	w.cancel()
	w.wg.Wait()
}

// writeTx runs one transaction and records what became of its messages.
func writeTx(db *sql.DB, s *outbox.Store, topic string, keys int, m mix, payload []byte, t *tally) {
	ctx := context.Background()
	n := 1 + rand.IntN(txMessages)
	first := t.alloc(n)
	msgs := make([]*herald.Message, n)
	for i := range msgs {
		seq := first + i
		msg := herald.NewMessage(payload)
		msg.UUID = strconv.Itoa(seq)
		if rand.IntN(4) != 0 {
			herald.SetKey(msg, "key-"+strconv.Itoa(seq%keys))
		}
		msgs[i] = msg
	}
	rollback := rand.Float64() < m.rollback
	split := n // messages from split on are rolled back to a savepoint
	if n > 1 && rand.Float64() < m.savepoint {
		split = n / 2
	}
	failed := func() { t.end(first, n, rolledBack) } // never committed
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		failed()
		return
	}
	if err := s.Publish(ctx, tx, topic, msgs[:split]...); err != nil {
		_ = tx.Rollback()
		failed()
		return
	}
	if split < n {
		_, err := tx.ExecContext(ctx, "SAVEPOINT sp")
		if err == nil {
			err = s.Publish(ctx, tx, topic, msgs[split:]...)
		}
		if err == nil {
			_, err = tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT sp")
		}
		if err != nil {
			_ = tx.Rollback()
			failed()
			return
		}
	}
	if m.slow > 0 && rand.Float64() < m.slow {
		time.Sleep(m.slowFor + rand.N(m.slowFor))
	}
	if rollback {
		_ = tx.Rollback() // failed or not, nothing was committed
		failed()
		return
	}
	if err := tx.Commit(); err != nil {
		t.end(first, split, inDoubt)
	} else {
		t.end(first, split, committed)
	}
	if split < n {
		t.end(first+split, n-split, rolledBack)
	}
}
