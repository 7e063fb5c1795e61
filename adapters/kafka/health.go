package kafka

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// health tracks the failures of one consumer stream: it logs them once
// per outage, reports them to the Subscribe and Stream contexts watching
// the stream (adapters.ReportStatus), and probes for the recovery.
type health struct {
	topic  string
	sub    *Subscriber
	ctx    context.Context // ends when the stream stops
	inSync func() bool     // with a group: the member has a live assignment

	ready     chan struct{}
	readyOnce sync.Once
	refused   chan error     // an authorization refused before ready (capacity 1)
	bg        sync.WaitGroup // recovery probe

	mu       sync.Mutex
	stopped  bool
	lost     bool // a failure was reported and recovery not yet
	since    time.Time
	failures int                 // errors reported during the current outage
	seen     map[string]struct{} // distinct errors logged during the current outage (or before ready)
	last     error
	watchers map[int]context.Context // the contexts of the Subscribe calls reading it
	nextID   int
}

func newHealth(ctx context.Context, sub *Subscriber, topic string, inSync func() bool) *health {
	return &health{topic: topic, sub: sub, ctx: ctx, inSync: inSync, ready: make(chan struct{}), refused: make(chan error, 1), watchers: map[int]context.Context{}}
}

func (st *health) markReady() { st.readyOnce.Do(func() { close(st.ready) }) }

func (st *health) isReady() bool {
	select {
	case <-st.ready:
		return true
	default:
		return false
	}
}

// stop marks the stream stopped: errors from now on are its own shutdown.
func (st *health) stop() {
	st.mu.Lock()
	st.stopped = true
	st.mu.Unlock()
}

// watch registers the context of a Subscribe call reading the stream, for
// status reports, and tells it at once if the stream is failing.
func (st *health) watch(ctx context.Context) (unwatch func()) {
	st.mu.Lock()
	id := st.nextID
	st.nextID++
	st.watchers[id] = ctx
	lost, last := st.lost, st.last
	st.mu.Unlock()
	if lost {
		adapters.ReportStatus(ctx, st.lostError(last))
	}
	return func() {
		st.mu.Lock()
		delete(st.watchers, id)
		st.mu.Unlock()
	}
}

func (st *health) lostError(cause error) error {
	return fmt.Errorf("herald/kafka: subscribe to %q: %w: %w", st.topic, herald.ErrSubscriptionLost, cause)
}

// lastError returns the last error the Kafka stack reported, or nil.
func (st *health) lastError() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.last
}

var digits = regexp.MustCompile(`[0-9]+`)

// benign reports errors that a consumer group meets in a normal rebalance
// (a commit racing with it): logged, but not a lost subscription.
func benign(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke {
		case kerr.RebalanceInProgress, kerr.IllegalGeneration, kerr.UnknownMemberID,
			kerr.NotCoordinator, kerr.CoordinatorNotAvailable, kerr.CoordinatorLoadInProgress:
			return true
		}
	}
	return false
}

// fail is called with every error the Kafka stack reports for the stream
// (failed connections, fetch errors, a lost group assignment). Each
// distinct error is logged at warn level once per outage;
// the first one of an outage reports the subscription lost (wrapping
// herald.ErrSubscriptionLost) to the Subscribe calls reading it, and a
// probe then watches for its recovery. Errors of the stream's own
// shutdown are logged at debug level.
func (st *health) fail(what string, err error) {
	log := st.sub.log.With("topic", st.topic, "group", st.sub.set.group)
	cause := fmt.Errorf("%s: %w", what, err)
	key := digits.ReplaceAllString(cause.Error(), "#") // one line for all partitions, ports, ...
	st.mu.Lock()
	if st.stopped || st.ctx.Err() != nil {
		st.mu.Unlock()
		log.Debug("herald/kafka: error while stopping", "error", cause)
		return
	}
	st.last = cause
	if !st.isReady() && authorizationFailed(err) {
		// Not transient: the Subscribe waiting for the group fails now.
		select {
		case st.refused <- cause:
		default:
		}
	}
	if !st.isReady() || benign(err) {
		_, dup := st.seen[key]
		if st.seen == nil {
			st.seen = map[string]struct{}{}
		}
		st.seen[key] = struct{}{}
		st.mu.Unlock()
		if !dup {
			log.Warn("herald/kafka: consumer error", "error", cause)
		}
		return
	}
	first := !st.lost
	if first {
		st.lost, st.since, st.failures, st.seen = true, time.Now(), 0, map[string]struct{}{}
		st.bg.Add(1)
		go st.probe()
	}
	st.failures++
	_, dup := st.seen[key]
	st.seen[key] = struct{}{}
	watchers := st.watchersLocked()
	st.mu.Unlock()
	switch {
	case first:
		log.Warn("herald/kafka: subscription lost", "error", cause)
	case !dup:
		log.Warn("herald/kafka: subscription still failing", "error", cause)
	default:
		return
	}
	lost := st.lostError(cause)
	for _, ctx := range watchers {
		adapters.ReportStatus(ctx, lost)
	}
}

func (st *health) watchersLocked() []context.Context {
	w := make([]context.Context, 0, len(st.watchers))
	for _, ctx := range st.watchers {
		w = append(w, ctx)
	}
	return w
}

// recovered ends an outage: logged at info level, reported with nil.
func (st *health) recovered() {
	st.mu.Lock()
	if !st.lost || st.stopped {
		st.mu.Unlock()
		return
	}
	st.lost = false
	since, failures := st.since, st.failures
	st.seen = nil
	watchers := st.watchersLocked()
	st.mu.Unlock()
	st.sub.log.Info("herald/kafka: subscription recovered", "topic", st.topic, "group", st.sub.set.group,
		"after", time.Since(since).Round(time.Millisecond), "errors", failures)
	for _, ctx := range watchers {
		adapters.ReportStatus(ctx, nil)
	}
}

// probe checks, with backoff, whether a lost subscription works again:
// every partition of the topic has a leader that answers and, with a
// group, the member is in a live session. A group member also recovers
// when it is assigned partitions again (see groupHandler.Setup).
func (st *health) probe() {
	defer st.bg.Done()
	wait := 500 * time.Millisecond
	for {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-st.ctx.Done():
			t.Stop()
			return
		}
		st.mu.Lock()
		lost := st.lost && !st.stopped
		st.mu.Unlock()
		if !lost {
			return
		}
		if st.healthy() {
			st.recovered()
			return
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func (st *health) healthy() bool {
	if st.sub.admin.leadersReady(st.ctx, st.topic) != nil {
		return false
	}
	return st.sub.set.group == "" || st.inSync == nil || st.inSync()
}
