package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/outbox"
	"github.com/heraldkit/herald/outbox/pgnotify"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/wmbridge"
)

// commitFunc writes the messages idxs in one transaction and commits it.
type commitFunc func(ctx context.Context, idxs []int) error

// pipeline is a case's writer side and what forwards it to the broker.
type pipeline struct {
	commit commitFunc
	relays bool   // false: nothing reaches the broker (insert cases)
	start  func() // starts forwarding (at once, or after the writes: drain cases)
	stop   func()
}

// env is what every case has.
type env struct {
	cfg    config
	pg     *sql.DB
	sqlite *sql.DB
}

func (e env) db(name string) (*sql.DB, outbox.Dialect) {
	if strings.HasSuffix(name, "/sqlite") {
		return e.sqlite, outbox.SQLite
	}
	return e.pg, outbox.PostgreSQL
}

// freshName is a table or topic name of its own.
func freshName(prefix string) string { return fmt.Sprintf("%s_%x", prefix, rand.Uint32()) }

// insertCase writes the rows into a plain table: the database's own rate.
func insertCase(ctx context.Context, e env, name, _ string) (pipeline, error) {
	db, d := e.db(name)
	table := freshName("obench_plain")
	if _, err := db.ExecContext(ctx, "CREATE TABLE "+table+" (id TEXT NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL)"); err != nil {
		if _, err := db.ExecContext(ctx, "CREATE TABLE "+table+" (id TEXT NOT NULL, topic TEXT NOT NULL, payload BYTEA NOT NULL)"); err != nil {
			return pipeline{}, err
		}
	}
	size := e.cfg.size
	commit := func(ctx context.Context, idxs []int) error {
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (id, topic, payload) VALUES ")
		args := make([]any, 0, 3*len(idxs))
		for i, idx := range idxs {
			if i > 0 {
				b.WriteByte(',')
			}
			if d == outbox.PostgreSQL {
				fmt.Fprintf(&b, "($%d,$%d,$%d)", 3*i+1, 3*i+2, 3*i+3)
			} else {
				b.WriteString("(?,?,?)")
			}
			args = append(args, herald.NewID(), "orders", payload(idx, size))
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			tx.Rollback() //nolint:errcheck
			return err
		}
		return tx.Commit()
	}
	return pipeline{commit: commit, stop: func() { db.Exec("DROP TABLE " + table) }}, nil //nolint:errcheck
}

// heraldCase writes through outbox.Store.Publish; one Relay with its
// defaults (and, on PostgreSQL, a pgnotify Notifier) forwards to topic.
func heraldCase(ctx context.Context, e env, name, topic string) (pipeline, error) {
	db, d := e.db(name)
	table := freshName("obench")
	store, err := outbox.New(ctx, db, d, outbox.WithTable(table))
	if err != nil {
		return pipeline{}, err
	}
	pub, err := publisher.Open(ctx, e.cfg.brokerURL)
	if err != nil {
		return pipeline{}, err
	}
	var opts []outbox.RelayOption
	if e.cfg.batch > 0 {
		opts = append(opts, outbox.WithBatch(e.cfg.batch))
	}
	if e.cfg.deleteSent {
		opts = append(opts, outbox.WithRetention(0))
	}
	var notifier *pgnotify.Notifier
	if d == outbox.PostgreSQL {
		if notifier, err = pgnotify.New(e.cfg.pgURL, table); err != nil {
			return pipeline{}, err
		}
		opts = append(opts, outbox.WithNotifier(notifier))
	}
	relay, err := store.NewRelay(pub, opts...)
	if err != nil {
		return pipeline{}, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	startRelay := func() { go func() { defer close(done); relay.Run(rctx) }() } //nolint:errcheck // ends with rctx
	size := e.cfg.size
	commit := func(ctx context.Context, idxs []int) error {
		msgs := make([]*herald.Message, len(idxs))
		for i, idx := range idxs {
			msgs[i] = herald.NewMessage(payload(idx, size))
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := store.Publish(ctx, tx, topic, msgs...); err != nil {
			tx.Rollback() //nolint:errcheck
			return err
		}
		return tx.Commit()
	}
	var started bool
	start := func() { started = true; startRelay() }
	stop := func() {
		cancel()
		if started {
			<-done
		}
		pub.Close()
		if notifier != nil {
			notifier.Close()
		}
		db.Exec("DROP TABLE " + table)                 //nolint:errcheck
		db.Exec("DROP TABLE " + table + "_delayed")    //nolint:errcheck
		db.Exec("DROP TABLE " + table + "_migrations") //nolint:errcheck
		if d == outbox.PostgreSQL {
			db.Exec("DROP FUNCTION " + table + "_notify()") //nolint:errcheck
		}
	}
	return pipeline{commit: commit, relays: true, stop: stop, start: start}, nil
}

// watermillCase writes through watermill-sql's Publisher on the writers'
// transaction, wrapped in forwarder.Publisher (one intermediate topic);
// forwarder.Forwarder reads it with watermill-sql's Subscriber (its
// defaults: batches of 100, 1 s poll) and publishes to topic through
// wmbridge, on the same Herald driver as the relay's publisher.
func watermillCase(ctx context.Context, e env, _, topic string) (pipeline, error) {
	db := e.pg
	logger := watermill.NopLogger{}
	fwdTopic := freshName("obench_fwd")
	schema := wsql.DefaultPostgreSQLSchema{}
	sub, err := wsql.NewSubscriber(wsql.BeginnerFromStdSQL(db), wsql.SubscriberConfig{
		SchemaAdapter: schema, OffsetsAdapter: wsql.DefaultPostgreSQLOffsetsAdapter{}, InitializeSchema: true,
	}, logger)
	if err != nil {
		return pipeline{}, err
	}
	if err := sub.SubscribeInitialize(fwdTopic); err != nil {
		return pipeline{}, err
	}
	out, err := wmbridge.OpenPublisher(ctx, e.cfg.brokerURL)
	if err != nil {
		return pipeline{}, err
	}
	fwd, err := forwarder.NewForwarder(sub, out, logger, forwarder.Config{ForwarderTopic: fwdTopic})
	if err != nil {
		return pipeline{}, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var started bool
	start := func() {
		started = true
		go func() { defer close(done); fwd.Run(rctx) }() //nolint:errcheck // ends with rctx
		select {
		case <-fwd.Running():
		case <-time.After(30 * time.Second):
		}
	}
	size := e.cfg.size
	commit := func(ctx context.Context, idxs []int) error {
		msgs := make([]*message.Message, len(idxs))
		for i, idx := range idxs {
			msgs[i] = message.NewMessage(watermill.NewUUID(), payload(idx, size))
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		p, err := wsql.NewPublisher(wsql.TxFromStdSQL(tx), wsql.PublisherConfig{SchemaAdapter: schema}, logger)
		if err != nil {
			tx.Rollback() //nolint:errcheck
			return err
		}
		if err := forwarder.NewPublisher(p, forwarder.PublisherConfig{ForwarderTopic: fwdTopic}).Publish(topic, msgs...); err != nil {
			tx.Rollback() //nolint:errcheck
			return err
		}
		return tx.Commit()
	}
	stop := func() {
		fwd.Close()
		cancel()
		if started {
			<-done
		}
		out.Close()
		sub.Close()
		db.Exec(`DROP TABLE "watermill_` + fwdTopic + `"`)         //nolint:errcheck
		db.Exec(`DROP TABLE "watermill_offsets_` + fwdTopic + `"`) //nolint:errcheck
	}
	return pipeline{commit: commit, relays: true, stop: stop, start: start}, nil
}
