package wmtest

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
)

// sqlSubscriber is watermill-sql's subscriber for one group, or, without
// a group, one watermill-sql subscriber of a fresh private group per
// Subscribe call (its offsets row is deleted when the call ends).
type sqlSubscriber struct {
	db     *stdsql.DB
	tx     wsql.Beginner
	group  string
	poll   time.Duration
	logger watermill.LoggerAdapter

	mu      sync.Mutex
	closed  bool
	grouped *wsql.Subscriber                        // with a group: the one subscriber
	private map[*wsql.Subscriber]context.CancelFunc // without: one per Subscribe still running
	running sync.WaitGroup                          // the private subscribers' cleanups
}

var (
	_ message.Subscriber           = (*sqlSubscriber)(nil)
	_ message.SubscribeInitializer = (*sqlSubscriber)(nil)
)

func newSQLSubscriber(db *stdsql.DB, group string, poll time.Duration, logger watermill.LoggerAdapter) *sqlSubscriber {
	return &sqlSubscriber{
		db: db, tx: settlingDB{wsql.BeginnerFromStdSQL(db)}, group: group, poll: poll, logger: logger,
		private: map[*wsql.Subscriber]context.CancelFunc{},
	}
}

// newSub makes a watermill-sql subscriber of group.
func (s *sqlSubscriber) newSub(group string) (*wsql.Subscriber, error) {
	return wsql.NewSubscriber(s.tx, wsql.SubscriberConfig{
		ConsumerGroup:    group,
		PollInterval:     s.poll,
		ResendInterval:   time.Nanosecond, // a nacked row at once: the facade holds the delay
		RetryInterval:    500 * time.Millisecond,
		SchemaAdapter:    sqlSchema(),
		OffsetsAdapter:   newSQLOffsets(),
		InitializeSchema: true,
	}, s.logger)
}

func (s *sqlSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, wsql.ErrSubscriberClosed
	}
	if s.group != "" {
		if s.grouped == nil {
			sub, err := s.newSub(s.group)
			if err != nil {
				return nil, err
			}
			s.grouped = sub
		}
		return s.grouped.Subscribe(ctx, topic)
	}
	group := privatePrefix + watermill.NewULID()
	sub, err := s.newSub(group)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	ch, err := sub.Subscribe(ctx, topic)
	if err != nil {
		cancel()
		return nil, err
	}
	s.private[sub] = cancel
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		<-ctx.Done()
		_ = sub.Close() // waits until the subscriber settled and stopped
		s.forget(topic, group)
		s.mu.Lock()
		delete(s.private, sub)
		s.mu.Unlock()
	}()
	return ch, nil
}

// forget deletes a private group's offsets row.
func (s *sqlSubscriber) forget(topic, group string) {
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	q := `DELETE FROM ` + newSQLOffsets().MessagesOffsetsTable(topic) + ` WHERE consumer_group = $1`
	if _, err := s.db.ExecContext(ctx, q, group); err != nil {
		s.logger.Debug("wmsql: deleting a private group's offsets", watermill.LogFields{"group": group, "err": err})
	}
}

// SubscribeInitialize creates the topic's tables.
func (s *sqlSubscriber) SubscribeInitialize(topic string) error {
	sub, err := s.newSub(s.group)
	if err != nil {
		return err
	}
	return sub.SubscribeInitialize(topic)
}

// Close ends every Subscribe call, then closes the database pool.
func (s *sqlSubscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, cancel := range s.private {
		cancel() // its goroutine closes it
	}
	grouped := s.grouped
	s.mu.Unlock()
	var errs []error
	if grouped != nil {
		errs = append(errs, grouped.Close())
	}
	s.running.Wait()
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// settlingDB begins transactions that its caller's context does not roll
// back: watermill-sql runs a row's ack (its offset update) in the
// transaction that read the row, with the Subscribe call's context, so a
// Subscribe ended right after an Ack would roll the ack back and the
// message would come again. Queries stay cancellable (a member waiting
// for its group's lock stops at once); statements run to their end
// (within settleTimeout).
type settlingDB struct{ wsql.Beginner }

func (d settlingDB) BeginTx(ctx context.Context, opts *stdsql.TxOptions) (wsql.Tx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tx, err := d.Beginner.BeginTx(context.WithoutCancel(ctx), opts)
	if err != nil {
		return nil, err
	}
	return settlingTx{tx}, nil
}

type settlingTx struct{ wsql.Tx }

func (t settlingTx) ExecContext(ctx context.Context, query string, args ...any) (wsql.Result, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	return t.Tx.ExecContext(ctx, query, args...)
}

// fnv64 is the FNV-1a hash of s in hex.
func fnv64(s string) string {
	h := fnv.New64a()
	h.Write([]byte(s))
	return fmt.Sprintf("%016x", h.Sum64())
}
