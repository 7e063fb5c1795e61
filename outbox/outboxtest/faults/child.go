package faults

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx"
	_ "modernc.org/sqlite"             // "sqlite"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/nats"
	"github.com/heraldkit/herald/outbox"
	"github.com/heraldkit/herald/publisher"
)

// envRelay holds, in a relay process, its relayConfig as JSON.
const envRelay = "HERALD_OUTBOX_FAULTS_RELAY"

// relayConfig is what a relay process relays, and how.
type relayConfig struct {
	Driver         string        `json:"driver"` // pgx or sqlite
	DSN            string        `json:"dsn"`
	Table          string        `json:"table"`
	URL            string        `json:"url"`
	Lease          time.Duration `json:"lease"`
	RetryDelay     time.Duration `json:"retry_delay"`
	PublishTimeout time.Duration `json:"publish_timeout"`
	Batch          int           `json:"batch"`
}

// RunRelayIfChild runs the relay role and exits when this process was
// started as one of the suite's relay processes; otherwise it returns at
// once. Call it first in main (and TestMain).
func RunRelayIfChild() {
	v := os.Getenv(envRelay)
	if v == "" {
		return
	}
	var c relayConfig
	err := json.Unmarshal([]byte(v), &c)
	if err == nil {
		err = relay(c)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "outbox-faults relay: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// relay runs an outbox relay from c.Table to c.URL until SIGTERM; it
// writes "ready" to stdout once it runs, and "p" whenever it handed a
// message to the broker (a publish middleware), so that the suite can
// kill it in the middle of a batch.
func relay(c relayConfig) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	d := outbox.PostgreSQL
	if c.Driver == "sqlite" {
		d = outbox.SQLite
	}
	db, err := sql.Open(c.Driver, c.DSN)
	if err != nil {
		return err
	}
	defer db.Close()
	s, err := outbox.New(ctx, db, d, outbox.WithTable(c.Table))
	if err != nil {
		return err
	}
	handed := func(next herald.PublishFunc) herald.PublishFunc {
		return func(ctx context.Context, topic string, msgs ...*herald.Message) error {
			err := next(ctx, topic, msgs...)
			if err == nil {
				_, _ = os.Stdout.WriteString("p\n")
			}
			return err
		}
	}
	pub, err := publisher.Open(ctx, c.URL, publisher.WithPublishTimeout(c.PublishTimeout), publisher.WithLogger(log),
		publisher.WithMiddleware(handed))
	if err != nil {
		return err
	}
	defer pub.Close()
	r, err := s.NewRelay(pub, outbox.WithLease(c.Lease), outbox.WithBatch(c.Batch),
		outbox.WithRetryDelay(c.RetryDelay), outbox.WithLogger(log))
	if err != nil {
		return err
	}
	if _, err := os.Stdout.WriteString("ready\n"); err != nil {
		return err
	}
	return r.Run(ctx)
}
