package main

import (
	"context"
	"sync"
	"time"

	"github.com/heraldkit/herald/examples/internal/appdb"
	"github.com/heraldkit/herald/examples/orders/internal/shop"
	"github.com/heraldkit/herald/outbox"
	"github.com/heraldkit/herald/publisher"
)

// relay is the outbox relay of the order service, running in a goroutine.
type relay struct {
	r      *outbox.Relay
	cancel context.CancelFunc
	done   chan error
	close  func()
	once   sync.Once
}

// startRelay starts the relay of store (not when run is false: it then
// forwards nothing until stop).
func startRelay(ctx context.Context, db *appdb.DB, store *outbox.Store, pub *publisher.Publisher, t shop.Tables, run bool) (*relay, error) {
	opts, closeNotifier, err := db.RelayOptions(t.Outbox)
	if err != nil {
		return nil, err
	}
	r, err := store.NewRelay(pub, append(opts, outbox.WithPollInterval(50*time.Millisecond))...)
	if err != nil {
		closeNotifier()
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	rl := &relay{r: r, cancel: cancel, done: make(chan error, 1), close: closeNotifier}
	if !run {
		rl.done <- nil
		return rl, nil
	}
	go func() { rl.done <- r.Run(ctx) }()
	return rl, nil
}

// drain waits until no committed event is left to forward (in flight
// included), checking the relay's Stats every 20 ms, then stops the relay
// and returns how many events it forwarded (read once Run returned: the
// counters are final only then).
func (rl *relay) drain(ctx context.Context) (int64, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s, err := rl.r.Stats(ctx)
		if err != nil {
			return 0, err
		}
		if s.Pending == 0 && s.InFlight == 0 {
			rl.stop()
			s, _ := rl.r.Stats(ctx) // the counters are set even if the query fails
			return s.Relayed, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// stop stops the relay and waits for it; calls after the first do nothing.
func (rl *relay) stop() {
	rl.once.Do(func() {
		rl.cancel()
		<-rl.done
		rl.close()
	})
}
