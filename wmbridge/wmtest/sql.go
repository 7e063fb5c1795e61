package wmtest

import (
	"context"
	stdsql "database/sql"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/wmbridge"
)

// Defaults of the PostgreSQL backend.
const (
	// defaultPollInterval is how long an idle subscriber waits between
	// two queries for new rows (watermill-sql's PollInterval; its own
	// default is 1 s).
	defaultPollInterval = 100 * time.Millisecond
	// settleTimeout bounds a statement that settles what a handler did
	// (the ack's offset update), which runs to its end even when the
	// subscription is being closed.
	settleTimeout = 10 * time.Second
)

// privatePrefix starts the consumer group of a subscriber without a
// group: one fresh group per Subscribe call, starting at the end of the
// topic. Groups of the configuration may not start with it.
const privatePrefix = "herald.private."

// PostgreSQL is watermill-sql (watermill-sql/v4, PostgreSQL schema and
// offsets) on pgx as a Herald backend: the URL is a PostgreSQL URL with
// the backend's scheme ("wmsql://user:password@host:5432/db?sslmode=disable&group=billing").
// Each topic is a table of rows (payload BYTEA, metadata JSON) and a
// table of the groups' offsets, created when first published to or
// subscribed; the tables are watermill-sql's own ("watermill_TOPIC",
// "watermill_offsets_TOPIC") when those names fit PostgreSQL's 63 bytes,
// so a plain watermill-sql application with a BYTEA payload type reads
// and writes the same ones. What it does, declared honestly:
//
//   - Durable, Groups: rows stay in the table; a group is a row of
//     offsets, locked (FOR UPDATE) by the member reading, so a group's
//     members take its messages one at a time, in turn. A new group
//     starts at the topic's first row. A subscriber without a group gets
//     a fresh group per Subscribe that starts at the topic's end: every
//     message published after Subscribe returned.
//   - Redelivery RedeliverBroker: msg.Nack() has watermill-sql send the
//     row again at once (the facade holds the delay), before any later
//     row of the group: no member gets a later message meanwhile.
//   - Order OrderQueue: a group's rows come in commit order (of the
//     publishing transactions, then row order), one at a time for the
//     whole group. That is stronger than OrderQueue promises (also across
//     members and redeliveries), but not OrderKey: the messages of one
//     key go to whichever member holds the group's lock.
//   - DefaultWindow and MaxWindow 1: watermill-sql hands one message and
//     waits for its Ack or Nack. An unsettled message is sent again after
//     30 s (watermill-sql's AckDeadline), to the same or another member.
//   - MaxMessageSize: not declared (PostgreSQL's limit of a BYTEA value
//     is 1 GB).
//
// Options: sslmode (libpq's), poll_interval (how long an idle subscriber
// waits before querying again, default 100 ms).
func PostgreSQL() wmbridge.Backend {
	return wmbridge.Backend{
		NewPublisher: func(_ context.Context, cfg herald.Config, logger watermill.LoggerAdapter) (message.Publisher, error) {
			db, err := openDB(cfg)
			if err != nil {
				return nil, err
			}
			pub, err := wsql.NewPublisher(wsql.BeginnerFromStdSQL(db), wsql.PublisherConfig{
				SchemaAdapter:        sqlSchema(),
				AutoInitializeSchema: true,
			}, logger)
			if err != nil {
				_ = db.Close()
				return nil, err
			}
			return &sqlPublisher{Publisher: pub, db: db}, nil
		},
		NewSubscriber: func(ctx context.Context, cfg herald.Config, logger watermill.LoggerAdapter) (message.Subscriber, error) {
			db, err := openDB(cfg)
			if err != nil {
				return nil, err
			}
			if err := db.PingContext(ctx); err != nil {
				_ = db.Close()
				return nil, err
			}
			poll, _ := pollInterval(cfg) // Validate checked it
			return newSQLSubscriber(db, cfg.Group, poll, logger), nil
		},
		Options: []string{"sslmode", "poll_interval"},
		Validate: func(cfg herald.Config) error {
			if len(cfg.Hosts) == 0 {
				return &herald.ConfigError{Key: "host", Problem: "is missing", Allowed: "host[:port][,host[:port]...]"}
			}
			if strings.HasPrefix(cfg.Group, privatePrefix) {
				return &herald.ConfigError{Key: "group", Value: cfg.Group, Problem: "starts with " + privatePrefix + ", which is reserved for subscribers without a group", Allowed: "any other name"}
			}
			_, err := pollInterval(cfg)
			return err
		},
		Capabilities: func(herald.Config) adapters.Capabilities {
			return adapters.Capabilities{
				Durable:       true,
				Groups:        true,
				Redelivery:    adapters.RedeliverBroker,
				Order:         adapters.OrderQueue,
				DefaultWindow: 1,
				MaxWindow:     1,
			}
		},
		ErrorKind: sqlErrorKind,
	}
}

func pollInterval(cfg herald.Config) (time.Duration, error) {
	v, ok := cfg.Options["poll_interval"]
	if !ok {
		return defaultPollInterval, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > time.Minute {
		return 0, &herald.ConfigError{Key: "poll_interval", Value: v, Problem: "is not a duration from 1ns to 1m", Allowed: "a Go duration such as 100ms"}
	}
	return d, nil
}

// openDB opens a database/sql pool on pgx for cfg: its hosts, user,
// password, database (the path) and sslmode.
func openDB(cfg herald.Config) (*stdsql.DB, error) {
	q := url.Values{"connect_timeout": {"10"}}
	if v, ok := cfg.Options["sslmode"]; ok {
		q.Set("sslmode", v)
	}
	u := url.URL{Scheme: "postgres", Host: strings.Join(cfg.Hosts, ","), Path: cfg.Path, RawQuery: q.Encode()}
	if cfg.Username != "" {
		u.User = url.UserPassword(cfg.Username, cfg.Password.Value())
		if cfg.Password == "" {
			u.User = url.User(cfg.Username)
		}
	}
	return stdsql.Open("pgx", u.String())
}

// sqlSchema is watermill-sql's PostgreSQL schema with BYTEA payloads
// (Herald payloads are bytes, not JSON), one row per query, and table
// names that fit PostgreSQL's identifiers.
func sqlSchema() wsql.DefaultPostgreSQLSchema {
	return wsql.DefaultPostgreSQLSchema{
		GenerateMessagesTableName: func(topic string) string { return tableName("watermill_", topic) },
		GeneratePayloadType:       func(string) string { return "BYTEA" },
		// One row per transaction: an Ack is committed before the next
		// message comes, so closing a subscription never loses acks of
		// a batch still open.
		SubscribeBatchSize: 1,
	}
}

// sqlOffsets is watermill-sql's PostgreSQL offsets, with the table names
// of sqlSchema, and private groups that start at the topic's end.
type sqlOffsets struct {
	wsql.DefaultPostgreSQLOffsetsAdapter
}

func newSQLOffsets() sqlOffsets {
	return sqlOffsets{wsql.DefaultPostgreSQLOffsetsAdapter{
		GenerateMessagesOffsetsTableName: func(topic string) string { return tableName("watermill_offsets_", topic) },
	}}
}

// BeforeSubscribingQueries creates the group's offsets row: at the start
// of the topic for a group, at its end for a private group (the last row
// of a transaction older than every transaction still running, so that
// every row committed later comes).
func (o sqlOffsets) BeforeSubscribingQueries(p wsql.BeforeSubscribingQueriesParams) ([]wsql.Query, error) {
	if !strings.HasPrefix(p.ConsumerGroup, privatePrefix) {
		return o.DefaultPostgreSQLOffsetsAdapter.BeforeSubscribingQueries(p)
	}
	return []wsql.Query{{
		Query: `INSERT INTO ` + o.MessagesOffsetsTable(p.Topic) + ` (consumer_group, offset_acked, last_processed_transaction_id)
			SELECT $1, COALESCE(last."offset", 0), COALESCE(last.transaction_id, '0'::xid8)
			FROM (SELECT 1) AS one LEFT JOIN LATERAL (
				SELECT "offset", transaction_id FROM ` + sqlSchema().MessagesTable(p.Topic) + `
				WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
				ORDER BY transaction_id DESC, "offset" DESC LIMIT 1
			) AS last ON true
			ON CONFLICT DO NOTHING`,
		Args: []any{p.ConsumerGroup},
	}}, nil
}

// tableName is prefix+topic, quoted, when it fits PostgreSQL's 63-byte
// identifiers (watermill-sql's own names), else a prefix of it and a
// hash of the topic.
func tableName(prefix, topic string) string {
	name := prefix + topic
	if len(name) > 63 {
		h := fnv64(topic)
		name = name[:63-17] + "_" + h
	}
	return `"` + name + `"`
}

// sqlErrorKind classifies watermill-sql's and pgx's errors.
func sqlErrorKind(err error) herald.Kind {
	var connect *pgconn.ConnectError
	switch {
	case errors.Is(err, wsql.ErrInvalidTopicName):
		return herald.KindInvalid
	case errors.Is(err, wsql.ErrPublisherClosed), errors.Is(err, wsql.ErrSubscriberClosed):
		return herald.KindClosed
	case errors.As(err, &connect):
		return herald.KindUnreachable // no connection: nothing was written
	}
	return herald.KindOther
}

// sqlPublisher closes its database pool with the publisher.
type sqlPublisher struct {
	*wsql.Publisher
	db *stdsql.DB
}

func (p *sqlPublisher) Close() error {
	return errors.Join(p.Publisher.Close(), p.db.Close())
}
