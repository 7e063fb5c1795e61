package faults

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/heraldkit/herald/internal/faultkit"
)

// Config is a suite's settings; zero fields take DefaultConfig's.
type Config struct {
	// Exe and Args start a relay process (this binary run again, which
	// must call RunRelayIfChild first); Exe defaults to this executable.
	Exe  string
	Args []string
	// Writers is how many goroutines run transactions, at Rate messages
	// per second in all (committed and rolled back), over Keys keys.
	Writers, Rate, Keys int
	// Warmup is the writing before the first fault, After the writing
	// after the last.
	Warmup, After time.Duration
	// Kills is how many times a relay is SIGKILLed (relay-kill, relays-N),
	// Gap the time between two kills.
	Kills int
	Gap   time.Duration
	// Restarts is how many times the database (db-restart) or the broker
	// (broker-down) is stopped and started again, each time Down long.
	Restarts int
	Down     time.Duration
	// Lease, Batch, RetryDelay and PublishTimeout configure each relay
	// (outbox.WithLease, WithBatch, WithRetryDelay; the publisher's
	// publish timeout, below the lease).
	Lease, RetryDelay, PublishTimeout time.Duration
	Batch                             int
	// Drain bounds the wait, after the writers stopped, for every
	// committed message.
	Drain time.Duration
	// Dir holds the servers' data and the SQLite files (a temporary
	// directory, removed, if empty).
	Dir string
	// PGBin is the directory of initdb and pg_ctl (PGBinDir if empty);
	// NATSServer the nats-server binary (NATSServerBinary if empty).
	PGBin, NATSServer string
	// Log gets progress lines (nil: stderr).
	Log io.Writer
}

// DefaultConfig is the full suite's settings.
func DefaultConfig() Config {
	return Config{
		Writers: 4, Rate: 1000, Keys: 16,
		Warmup: 3 * time.Second, After: 3 * time.Second,
		Kills: 3, Gap: 4 * time.Second, Restarts: 2, Down: 3 * time.Second,
		Lease: 3 * time.Second, RetryDelay: 250 * time.Millisecond, PublishTimeout: 2 * time.Second, Batch: 64,
		Drain: 2 * time.Minute,
	}
}

// ShortConfig is the settings of the subset make test runs.
func ShortConfig() Config {
	c := DefaultConfig()
	c.Rate, c.Warmup, c.After = 500, time.Second, time.Second
	c.Kills, c.Gap, c.Restarts, c.Down = 2, 1500*time.Millisecond, 1, 1500*time.Millisecond
	c.Lease, c.PublishTimeout = time.Second, 800*time.Millisecond
	return c
}

func (c *Config) fill() {
	faultkit.FillConfig(c, DefaultConfig(), &c.Exe, &c.Log)
	if _, ok := c.Log.(*lockedWriter); !ok {
		c.Log = &lockedWriter{w: c.Log} // the progress lines and the consumer's logger share it
	}
}

// lockedWriter serializes the writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (c *Config) logf(format string, args ...any) {
	fmt.Fprintf(c.Log, "outbox-faults: "+format+"\n", args...)
}
