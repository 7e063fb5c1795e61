package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// TestBrokerRestart kills a private broker (SIGKILL) under a publisher and
// a group subscriber, through the facade, and starts it again: a publish
// while the broker is down fails at its deadline as not stored
// (ErrUnreachable) or maybe stored (ErrOutcomeUnknown), never later; a
// publish made while it is down with a longer deadline succeeds once it
// is back; the subscriber gets every message whose publish returned nil.
func TestBrokerRestart(t *testing.T) {
	t.Parallel()
	b := startPrivateBroker(t)
	topic, group := uniqueName("restart"), uniqueName("g")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pub, err := publisher.Open(ctx, b.url())
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := subscriber.Open(ctx, b.url()+"?group="+group+"&session_timeout=6s", subscriber.WithRecoveryTimeout(3*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var mu sync.Mutex
	seen := map[string]bool{}
	arrived := make(chan struct{}, 1)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		_ = sub.Subscribe(sctx, topic, func(_ context.Context, m *herald.Message) error {
			mu.Lock()
			seen[m.UUID] = true
			mu.Unlock()
			select {
			case arrived <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	var acked []string
	publish := func(d time.Duration, payload string) error {
		m := herald.NewMessage([]byte(payload))
		herald.SetKey(m, payload)
		pctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		err := pub.Publish(pctx, topic, m)
		if err == nil {
			acked = append(acked, m.UUID)
		}
		return err
	}
	if err := publish(30*time.Second, "before"); err != nil {
		t.Fatal(err)
	}
	b.kill()
	const d = 2 * time.Second
	start := time.Now()
	for i := range 5 {
		err := publish(d, fmt.Sprint("down-", i))
		if !errors.Is(err, herald.ErrUnreachable) && !errors.Is(err, herald.ErrOutcomeUnknown) {
			t.Errorf("publish while the broker is down: %v; want ErrUnreachable or ErrOutcomeUnknown", err)
		}
	}
	if took := time.Since(start); took > 5*(d+time.Second) {
		t.Errorf("5 publishes of %v deadline took %v while the broker was down", d, took)
	}
	late := make(chan error, 1)
	go func() { late <- publish(3*time.Minute, "late") }()
	b.start()
	if err := <-late; err != nil {
		t.Fatalf("publish across the restart: %v", err)
	}
	deadline := time.After(3 * time.Minute)
	for {
		mu.Lock()
		missing := 0
		for _, id := range acked {
			if !seen[id] {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		select {
		case <-arrived:
		case <-time.After(time.Second):
		case <-deadline:
			t.Fatalf("%d of %d acknowledged messages never arrived", missing, len(acked))
		}
	}
}
