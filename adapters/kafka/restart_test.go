package kafka_test

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
)

// TestRestartGroupAndPrivate restarts the broker while one publisher and
// two subscribers (a group member and a private consumer) run at the
// adapter level: each subscriber gets every message whose Publish returned
// nil. HERALD_TEST_KAFKA_OUTAGE=25s keeps the broker down that long (down,
// wait, up) instead of a plain restart.
func TestRestartGroupAndPrivate(t *testing.T) {
	target := brokerURL(t)
	if !adaptertest.RestartEnabled() {
		t.Skip("restarts the broker: runs with HERALD_TEST_RESTART=1 (scripts/test.sh)")
	}
	topic := uniqueName("restart")
	pub := openPub(t, target)
	subs := map[string]<-chan *message.Message{
		"group":   subscribe(t, openSub(t, withQuery(target, "group="+uniqueName("g"))), topic),
		"private": subscribe(t, openSub(t, target), topic),
	}
	type tally struct {
		mu   sync.Mutex
		seen map[string]int
	}
	tallies := map[string]*tally{}
	for name, ch := range subs {
		tl := &tally{seen: map[string]int{}}
		tallies[name] = tl
		go func() {
			for m := range ch {
				tl.mu.Lock()
				tl.seen[m.UUID]++
				tl.mu.Unlock()
				m.Ack()
			}
		}()
	}

	var mu sync.Mutex
	var acked []string
	failed := 0
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			m := herald.NewMessage([]byte(fmt.Sprintf("r-%d", i)))
			herald.SetKey(m, fmt.Sprintf("k%d", i%7))
			err := pub.Publish(topic, m)
			mu.Lock()
			if err == nil {
				acked = append(acked, m.UUID)
			} else {
				failed++
				if failed == 1 {
					t.Logf("first failed publish: %v", err)
				}
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	// waitAcked waits until n publishes in all were acknowledged.
	waitAcked := func(n int, what string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			mu.Lock()
			got := len(acked)
			mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d acknowledged publishes %s", got, what)
			}
			time.Sleep(20 * time.Millisecond) // a condition poll, bounded above
		}
	}
	waitAcked(50, "before the restart")
	outage(t)
	mu.Lock()
	after := len(acked)
	mu.Unlock()
	waitAcked(after+50, "after the restart")
	close(stop)
	<-done

	mu.Lock()
	ids := append([]string(nil), acked...)
	mu.Unlock()
	deadline := time.Now().Add(90 * time.Second)
	for name, tl := range tallies {
		for {
			tl.mu.Lock()
			missing, deliveries := 0, 0
			for _, id := range ids {
				if tl.seen[id] == 0 {
					missing++
				}
			}
			for _, n := range tl.seen {
				deliveries += n
			}
			tl.mu.Unlock()
			if missing == 0 {
				t.Logf("%s: %d acknowledged publishes (%d failed), %d deliveries (%d duplicates)",
					name, len(ids), failed, deliveries, deliveries-len(ids))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d of %d acknowledged messages never arrived", name, missing, len(ids))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// outage restarts the broker, or stops it for HERALD_TEST_KAFKA_OUTAGE.
func outage(t *testing.T) {
	t.Helper()
	d, _ := time.ParseDuration(os.Getenv("HERALD_TEST_KAFKA_OUTAGE"))
	if d <= 0 {
		restartKafka(t)
		return
	}
	run := func(args ...string) {
		if out, err := exec.Command("../../scripts/brokers.sh", args...).CombinedOutput(); err != nil {
			t.Fatalf("scripts/brokers.sh %v: %v\n%s", args, err, out)
		}
	}
	start := time.Now()
	run("down", "kafka")
	time.Sleep(d)
	run("up", "kafka")
	t.Logf("kafka was down for %v", time.Since(start).Round(100*time.Millisecond))
}
