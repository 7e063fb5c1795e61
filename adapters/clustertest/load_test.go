package clustertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// load publishes numbered messages to one topic and consumes them with
// one group, counting by message ID: "acked" means Publish returned nil.
type load struct {
	t     *testing.T
	pub   *publisher.Publisher
	sub   *subscriber.Subscriber
	topic string
	group string

	mu      sync.Mutex
	changed chan struct{} // closed (and replaced) on every ack and delivery
	next    int
	acked   map[string]time.Time
	got     map[string]int
	pubErrs int
	lastErr error
	nAcked  int // acked messages
	nGot    int // distinct messages received
	dups    int // deliveries beyond the first

	stop    chan struct{} // closed to stop publishing
	pubDone chan struct{} // closed when the publishing loop returned
	subStop context.CancelFunc
	subDone chan error
}

// startLoad opens a publisher and a group subscriber on url, prepares
// topic, starts consuming, then publishing one message every 2 ms (one
// at a time, each waiting for its acknowledgement).
func startLoad(ctx context.Context, t *testing.T, url, topic, group string) *load {
	t.Helper()
	l := &load{
		t: t, topic: topic, group: group,
		changed: make(chan struct{}),
		acked:   map[string]time.Time{},
		got:     map[string]int{},
		stop:    make(chan struct{}),
		pubDone: make(chan struct{}),
		subDone: make(chan error, 1),
	}
	var err error
	if l.sub, err = subscriber.Open(ctx, url, subscriber.WithGroup(group), subscriber.WithConcurrency(4)); err != nil {
		t.Fatalf("subscriber.Open: %v", err)
	}
	t.Cleanup(func() { _ = l.sub.Close() })
	if l.pub, err = publisher.Open(ctx, url); err != nil {
		t.Fatalf("publisher.Open: %v", err)
	}
	t.Cleanup(func() { _ = l.pub.Close() })
	if err := l.sub.Prepare(ctx, topic); err != nil {
		t.Fatalf("Prepare %s: %v", topic, err)
	}
	sctx, cancel := context.WithCancel(ctx)
	l.subStop = cancel
	go func() {
		l.subDone <- l.sub.Subscribe(sctx, topic, l.handle)
	}()
	go l.publishLoop(ctx)
	return l
}

func (l *load) handle(_ context.Context, m *herald.Message) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	id := herald.ID(m)
	l.got[id]++
	if l.got[id] == 1 {
		l.nGot++
	} else {
		l.dups++
	}
	l.signalLocked()
	return nil
}

func (l *load) signalLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *load) publishLoop(ctx context.Context) {
	defer close(l.pubDone)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		l.mu.Lock()
		id := fmt.Sprintf("m-%07d", l.next)
		l.next++
		l.mu.Unlock()
		msg := herald.NewMessage([]byte(id))
		msg.UUID = id
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := l.pub.Publish(pctx, l.topic, msg)
		cancel()
		l.mu.Lock()
		if err != nil {
			l.pubErrs++
			l.lastErr = err
		} else {
			l.acked[id] = time.Now()
			l.nAcked++
		}
		l.signalLocked()
		l.mu.Unlock()
	}
}

// counts returns the acked and distinct received counts.
func (l *load) counts() (acked, got int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nAcked, l.nGot
}

// waitFor waits until cond (called with l.mu held) holds, or fails the
// test after d with what describes the wait.
func (l *load) waitFor(d time.Duration, what string, cond func() bool) {
	l.t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		ok, ch := cond(), l.changed
		acked, got, errs, last := l.nAcked, l.nGot, l.pubErrs, l.lastErr
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			l.t.Fatalf("%s: not reached after %v (acked %d, received %d, publish errors %d, last %v)", what, d, acked, got, errs, last)
		}
	}
}

// progress waits until n more messages were acked and n more received
// than at the call, and returns how long each took.
func (l *load) progress(d time.Duration, n int, what string) (pubTook, gotTook time.Duration) {
	l.t.Helper()
	start := time.Now()
	a0, g0 := l.counts()
	var pubAt, gotAt time.Time
	l.waitFor(d, what, func() bool {
		if pubAt.IsZero() && l.nAcked > a0 {
			pubAt = time.Now()
		}
		if gotAt.IsZero() && l.nGot > g0 {
			gotAt = time.Now()
		}
		return l.nAcked >= a0+n && l.nGot >= g0+n
	})
	return pubAt.Sub(start), gotAt.Sub(start)
}

// finish stops publishing, waits until every acked message was received
// (up to d) and reports the counts; it fails the test if an acked message
// never arrived.
func (l *load) finish(d time.Duration) {
	l.t.Helper()
	close(l.stop)
	<-l.pubDone
	deadline := time.Now().Add(d)
	for {
		l.mu.Lock()
		var missing []string
		for id := range l.acked {
			if l.got[id] == 0 {
				missing = append(missing, id)
			}
		}
		ch := l.changed
		l.mu.Unlock()
		if len(missing) == 0 {
			break
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			l.mu.Lock()
			l.t.Errorf("%d acknowledged messages never delivered (of %d acked), e.g. %v", len(missing), l.nAcked, missing[:min(5, len(missing))])
			l.mu.Unlock()
			break
		}
		select {
		case <-ch:
		case <-time.After(wait):
		}
	}
	l.subStop()
	select {
	case <-l.subDone:
	case <-time.After(30 * time.Second):
		l.t.Error("Subscribe did not return 30s after its context ended")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Logf("published %d, acked %d, publish errors %d (last: %v), received %d distinct, %d duplicates",
		l.next, l.nAcked, l.pubErrs, l.lastErr, l.nGot, l.dups)
	// Failing over is the client's job: a publish waits through it (each
	// has 30 s) rather than fail.
	if l.pubErrs > 0 {
		l.t.Errorf("%d publishes failed (last: %v); want none: the application should not see the failover", l.pubErrs, l.lastErr)
	}
}
