package adaptertest

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
)

// testRestart restarts the broker while a publisher and a subscriber run:
// every message whose Publish returned nil is received afterwards
// (duplicates are counted and allowed; losses are not).
func testRestart(t *testing.T, e *env) {
	topic := e.topic("restart")
	ready, readyCh := readyOption()
	c := newCollector()
	e.subscribe(e.subscriber(e.group("restart"), ready), readyCh, topic, c.handler)
	pub := e.publisher()

	var mu sync.Mutex
	var acked []string
	failures := 0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			m := herald.NewMessage([]byte("restart-" + strconv.Itoa(i)))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			err := pub.Publish(ctx, topic, m)
			cancel()
			mu.Lock()
			if err == nil {
				acked = append(acked, m.UUID)
			} else {
				failures++
			}
			mu.Unlock()
			if err != nil {
				select { // back off while the broker is away
				case <-stop:
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	c.waitUntil(t, e.wait(), "traffic before the restart", func() bool { return c.distinct() >= 20 })
	before := count()
	e.suite.Restart(t)
	t.Logf("broker restarted after %d acknowledged publishes", before)
	// Keep publishing until traffic flows again after the restart.
	c.waitUntil(t, 3*e.wait(), "traffic after the restart", func() bool { return count() >= before+50 && c.distinct() >= before+20 })
	close(stop)
	<-done
	mu.Lock()
	ids := append([]string(nil), acked...)
	fails := failures
	mu.Unlock()
	c.waitIDs(t, 3*e.wait(), ids)
	t.Logf("restart: %d publishes acknowledged, %d failed during the outage, %d deliveries for %d distinct messages (%d duplicates)",
		len(ids), fails, c.deliveries(), c.distinct(), c.deliveries()-c.distinct())
}
