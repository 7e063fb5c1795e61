package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/heraldkit/herald/outbox"
	"github.com/heraldkit/herald/publisher"
)

// defaultDB is the saga's SQLite file.
func defaultDB() string { return filepath.Join(os.TempDir(), "herald-saga", "saga.db") }

// startRelay runs the relay of the saga's outbox in a goroutine until the
// returned func is called (the process's services share one outbox;
// several processes share it too, each with a relay).
func (s *saga) startRelay(ctx context.Context) (stop func(), err error) {
	pub, err := publisher.Open(ctx, s.target, publisher.WithLogger(s.logger))
	if err != nil {
		return nil, err
	}
	opts, closeNotifier, err := s.db.RelayOptions(s.tables.outbox)
	if err != nil {
		pub.Close()
		return nil, err
	}
	r, err := s.store.NewRelay(pub, append(opts, outbox.WithPollInterval(50*time.Millisecond), outbox.WithLogger(s.logger))...)
	if err != nil {
		closeNotifier()
		pub.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx) //nolint:errcheck // ends with ctx
	}()
	return func() {
		cancel()
		<-done
		closeNotifier()
		pub.Close()
	}, nil
}
