package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/backoff"
)

// health tracks the failures of one stream and reports them through the
// stream's StreamOptions.Status: the first failure of an outage, and each
// new distinct cause while it lasts, as a *herald.Error; nil once the
// stream receives again. It logs at debug level only: the facade logs an
// outage once, from what Status reported.
type health struct {
	topic   string
	group   string
	log     *slog.Logger
	status  func(error)
	ctx     context.Context // ends when the stream stops
	healthy func() bool     // whether a lost stream works again (probe)

	ready     chan struct{}
	readyOnce sync.Once
	refused   chan error     // an authorization refused before ready (capacity 1)
	bg        sync.WaitGroup // recovery probe

	mu       sync.Mutex
	stopped  bool
	lost     bool // a failure was reported and recovery not yet
	since    time.Time
	failures int                 // errors during the current outage
	seen     map[string]struct{} // distinct errors during the current outage (or before ready)
	last     error

	reporting sync.Mutex // held while status runs: stop waits for it
}

func newHealth(ctx context.Context, s *stream, status func(error)) *health {
	return &health{
		topic: s.topic, group: s.sub.set.group, log: s.sub.log, status: status, ctx: ctx,
		ready: make(chan struct{}), refused: make(chan error, 1),
	}
}

func (h *health) markReady() { h.readyOnce.Do(func() { close(h.ready) }) }

func (h *health) isReady() bool {
	select {
	case <-h.ready:
		return true
	default:
		return false
	}
}

// stop marks the stream stopped: errors from now on are its own
// shutdown, and status is not called again once stop returned.
func (h *health) stop() {
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
	h.reporting.Lock()
	//lint:ignore SA2001 the empty section waits for a report in progress
	h.reporting.Unlock()
}

// report passes err to status unless the stream stopped.
func (h *health) report(err error) {
	h.reporting.Lock()
	defer h.reporting.Unlock()
	h.mu.Lock()
	stopped := h.stopped
	h.mu.Unlock()
	if !stopped {
		h.status(err)
	}
}

// lastError returns the last error the Kafka stack reported, or nil.
func (h *health) lastError() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

var digits = regexp.MustCompile(`[0-9]+`)

// benign reports errors that a consumer group meets in a normal rebalance
// (a commit racing with it): not an outage.
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

// statusError is what Status receives for a failure.
func (h *health) statusError(cause error) error {
	kind := kindOf(cause)
	if kind == herald.KindOther || kind == herald.KindClosed {
		kind = herald.KindUnreachable
	}
	return newError(opSubscribe, h.topic, kind, cause)
}

// fail is called with every error the Kafka stack reports for the stream
// (failed connections, fetch errors, group errors, partitions lost). The
// first one of an outage, and each new distinct one, is reported; a
// probe then watches for the recovery. Before the stream is ready, an
// authorization refused fails the opening instead.
func (h *health) fail(what string, err error) {
	cause := fmt.Errorf("%s: %w", what, err)
	key := digits.ReplaceAllString(cause.Error(), "#") // one entry for all partitions, ports, ...
	h.mu.Lock()
	if h.stopped || h.ctx.Err() != nil {
		h.mu.Unlock()
		h.log.Debug("herald/kafka: error while stopping", "topic", h.topic, "group", h.group, "error", cause)
		return
	}
	h.last = cause
	if !h.isReady() && authorizationFailed(err) {
		select {
		case h.refused <- cause:
		default:
		}
	}
	if !h.isReady() || benign(err) {
		h.mu.Unlock()
		h.log.Debug("herald/kafka: consumer error", "topic", h.topic, "group", h.group, "error", cause)
		return
	}
	first := !h.lost
	if first {
		h.lost, h.since, h.failures, h.seen = true, time.Now(), 0, map[string]struct{}{}
		h.bg.Add(1)
		go h.probe()
	}
	h.failures++
	_, dup := h.seen[key]
	h.seen[key] = struct{}{}
	h.mu.Unlock()
	if dup {
		return
	}
	h.log.Debug("herald/kafka: stream not receiving", "topic", h.topic, "group", h.group, "error", cause, "first", first)
	h.report(h.statusError(cause))
}

// recovered ends an outage: reported with nil.
func (h *health) recovered() {
	h.mu.Lock()
	if !h.lost || h.stopped {
		h.mu.Unlock()
		return
	}
	h.lost = false
	since, failures := h.since, h.failures
	h.seen = nil
	h.mu.Unlock()
	h.log.Debug("herald/kafka: stream receiving again", "topic", h.topic, "group", h.group,
		"after", time.Since(since).Round(time.Millisecond), "errors", failures)
	h.report(nil)
}

// probe checks, with backoff, whether a lost stream works again (see
// stream.healthy); records fetched or partitions assigned again also end
// the outage.
func (h *health) probe() {
	defer h.bg.Done()
	retry := backoff.Policy{Base: 500 * time.Millisecond, Limit: 5 * time.Second}.Start()
	for {
		if !backoff.Wait(h.ctx, retry.Next()) {
			return
		}
		h.mu.Lock()
		lost := h.lost && !h.stopped
		h.mu.Unlock()
		if !lost {
			return
		}
		if h.healthy() {
			h.recovered()
			return
		}
	}
}
