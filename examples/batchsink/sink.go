package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/examples/internal/appdb"
)

// sink writes events into table and counts what it costs: every
// BeginTx, ExecContext and Commit is one database round trip.
type sink struct {
	db    *appdb.DB
	table string
	want  int64 // rows + dead-lettered messages after which done is closed

	first      atomic.Int64 // UnixNano of the first message handled
	rows, dead atomic.Int64
	txs, trips atomic.Int64
	doneOnce   sync.Once
	done       chan struct{}
}

// valid reports whether payload is an event (a JSON object).
func valid(payload []byte) error {
	var v map[string]any
	if err := json.Unmarshal(payload, &v); err != nil {
		return herald.Permanent(fmt.Errorf("payload is not a JSON object: %w", err))
	}
	return nil
}

func (s *sink) started() { s.first.CompareAndSwap(0, time.Now().UnixNano()) }

// count adds rows inserted and messages dead-lettered.
func (s *sink) count(rows, dead int64) {
	if s.rows.Add(rows)+s.dead.Add(dead) >= s.want {
		s.doneOnce.Do(func() { close(s.done) })
	}
}

// single is the per-message handler: one transaction per message.
func (s *sink) single(ctx context.Context, m *herald.Message) error {
	s.started()
	if err := valid(m.Payload); err != nil {
		return err // dead-lettered by middleware.DeadLetter
	}
	n, err := s.insert(ctx, []*herald.Message{m})
	if err != nil {
		return err
	}
	s.count(n, 0)
	return nil
}

// batch is the batch handler: the valid messages of the batch in one
// transaction with one multi-row INSERT; the others dead-lettered.
func (s *sink) batch(ctx context.Context, b *herald.Batch) error {
	s.started()
	rows := make([]*herald.Message, 0, b.Len())
	for i, m := range b.Messages {
		if err := valid(m.Payload); err != nil {
			b.DeadLetter(i, err)
			continue
		}
		rows = append(rows, m)
	}
	if len(rows) == 0 {
		return nil
	}
	n, err := s.insert(ctx, rows)
	if err != nil {
		return err // the transaction rolled back: the whole batch is retried
	}
	s.count(n, 0)
	return nil
}

// insert writes msgs in one transaction and returns the rows inserted
// (a redelivered message is skipped by its primary key).
func (s *sink) insert(ctx context.Context, msgs []*herald.Message) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	s.trips.Add(1)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var q strings.Builder
	q.WriteString("INSERT INTO " + s.table + " (id, payload) VALUES ")
	args := make([]any, 0, 2*len(msgs))
	for i, m := range msgs {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?)")
		args = append(args, m.UUID, string(m.Payload))
	}
	q.WriteString(" ON CONFLICT (id) DO NOTHING")
	r, err := tx.ExecContext(ctx, s.db.Q(q.String()), args...)
	s.trips.Add(1)
	if err != nil {
		return 0, err
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, err
	}
	err = tx.Commit()
	s.trips.Add(1)
	if err != nil {
		return 0, err
	}
	s.txs.Add(1)
	return n, nil
}
