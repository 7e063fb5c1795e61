package kafka

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// stream is one topic's consumer inside a Subscriber, shared by the
// Subscribe calls for that topic: a watermill-kafka subscriber of its own,
// on connections of its own (guard), so that it can be stopped alone.
type stream struct {
	topic  string
	sub    *Subscriber
	wm     *wmkafka.Subscriber
	guard  *netGuard
	ctx    context.Context // the consumer's; cancelled when the stream stops
	cancel context.CancelFunc

	refs      int           // guarded by Subscriber.mu
	started   chan struct{} // closed once out and err are set
	out       <-chan *message.Message
	err       error
	abandoned bool // err is the context error of the Subscribe call that started it

	ready     chan struct{}
	readyOnce sync.Once
	sess      atomic.Pointer[sessionRef]
	inflight  sync.WaitGroup // messages handed out, not yet settled
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

type sessionRef struct{ sarama.ConsumerGroupSession }

func (st *stream) markReady() { st.readyOnce.Do(func() { close(st.ready) }) }

func (st *stream) isReady() bool {
	select {
	case <-st.ready:
		return true
	default:
		return false
	}
}

func (st *stream) setSession(sess sarama.ConsumerGroupSession) {
	st.sess.Store(&sessionRef{sess})
}

// mark records offset as processed in the current group session, unless
// that session has ended (a rebalance): the record is then delivered again.
func (st *stream) mark(partition int32, offset int64) {
	ref := st.sess.Load()
	if ref == nil || ref.Context().Err() != nil {
		return
	}
	ref.MarkOffset(st.topic, partition, offset+1, "")
}

// stop marks the stream stopped: errors from now on are its own shutdown.
func (st *stream) stop() {
	st.mu.Lock()
	st.stopped = true
	st.mu.Unlock()
}

// watch registers the context of a Subscribe call reading the stream, for
// status reports, and tells it at once if the stream is failing.
func (st *stream) watch(ctx context.Context) (unwatch func()) {
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

func (st *stream) lostError(cause error) error {
	return fmt.Errorf("herald/kafka: subscribe to %q: %w: %w", st.topic, herald.ErrSubscriptionLost, cause)
}

// lastError returns the last error the Kafka stack reported, or nil.
func (st *stream) lastError() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.last
}

var digits = regexp.MustCompile(`[0-9]+`)

// benign reports errors that a consumer group meets in a normal rebalance
// (a commit racing with it): logged, but not a lost subscription.
func benign(err error) bool {
	var kerr sarama.KError
	if errors.As(err, &kerr) {
		switch kerr {
		case sarama.ErrRebalanceInProgress, sarama.ErrIllegalGeneration, sarama.ErrUnknownMemberId,
			sarama.ErrNotCoordinatorForConsumer, sarama.ErrConsumerCoordinatorNotAvailable, sarama.ErrOffsetsLoadInProgress:
			return true
		}
	}
	return false
}

// fail is called with every error the Kafka stack reports for the stream
// (watermill-kafka's log, the group's and partition consumers' error
// channels). Each distinct error is logged at warn level once per outage;
// the first one of an outage reports the subscription lost (wrapping
// herald.ErrSubscriptionLost) to the Subscribe calls reading it, and a
// probe then watches for its recovery. Errors of the stream's own
// shutdown are logged at debug level.
func (st *stream) fail(what string, err error) {
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

func (st *stream) watchersLocked() []context.Context {
	w := make([]context.Context, 0, len(st.watchers))
	for _, ctx := range st.watchers {
		w = append(w, ctx)
	}
	return w
}

// recovered ends an outage: logged at info level, reported with nil.
func (st *stream) recovered() {
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
func (st *stream) probe() {
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

func (st *stream) healthy() bool {
	if st.sub.admin.leadersReady(st.topic) != nil {
		return false
	}
	if st.sub.set.group == "" {
		return true
	}
	ref := st.sess.Load()
	return ref != nil && ref.Context().Err() == nil
}
