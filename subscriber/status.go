package subscriber

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/heraldkit/herald"
)

// status tracks whether a Subscribe call's stream receives: the driver
// reports through StreamOptions.Status while it reconnects, and the
// reopen loop reports a stream that broke or could not be opened again.
// It is the one place an outage is logged: at warn once when it starts,
// at info when it ends. A stream broken for longer than the recovery
// timeout makes the Subscribe call give up (gaveUp is closed).
type status struct {
	r       *run
	timeout time.Duration

	mu     sync.Mutex
	broken map[int]brokenSince // 0 -> since when, why (a map: one per stream)
	timer  *time.Timer
	gaveUp chan struct{}
	final  error // set when gaveUp is closed
}

type brokenSince struct {
	at  time.Time
	err error
}

func newStatus(r *run, timeout time.Duration) *status {
	return &status{r: r, timeout: timeout, broken: map[int]brokenSince{}, gaveUp: make(chan struct{})}
}

// reporter returns the StreamOptions.Status for the run's streams.
func (st *status) reporter() func(error) { return st.report }

// report records that the stream is broken (err != nil) or receiving.
// The first report of an outage is logged at warn and passed to the error
// hook; later ones only update the cause. Recovery is logged at info.
func (st *status) report(err error) {
	const i = 0
	now := time.Now()
	st.mu.Lock()
	select {
	case <-st.gaveUp:
		st.mu.Unlock()
		return
	default:
	}
	b, was := st.broken[i]
	switch {
	case err == nil && !was, err != nil && was:
		if was {
			b.err = err
			st.broken[i] = b
		}
		st.mu.Unlock()
		return
	case err == nil:
		delete(st.broken, i)
		st.mu.Unlock()
		st.r.sub.opts.logger.Info("herald: subscription recovered", st.r.attrs("after", now.Sub(b.at).Round(time.Millisecond))...)
		return
	}
	st.broken[i] = brokenSince{at: now, err: err}
	if st.timer == nil {
		st.timer = time.AfterFunc(st.timeout, st.check)
	}
	st.mu.Unlock()
	st.r.sub.opts.logger.Warn("herald: subscription broken; retrying", st.r.attrs("error", err, "give_up_after", st.timeout)...)
	st.r.hook(st.r.sub.errorf(st.r.topic, lost("", err)))
}

// check gives up when a subscription has been broken for the recovery
// timeout, and otherwise re-arms for the oldest outage.
func (st *status) check() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.timer = nil
	var oldest brokenSince
	for _, b := range st.broken {
		if oldest.at.IsZero() || b.at.Before(oldest.at) {
			oldest = b
		}
	}
	if oldest.at.IsZero() {
		return
	}
	if left := st.timeout - time.Since(oldest.at); left > 0 {
		st.timer = time.AfterFunc(left, st.check)
		return
	}
	st.final = st.r.sub.errorf(st.r.topic, lost(fmt.Sprintf(": not recovered within %v", st.timeout), oldest.err))
	close(st.gaveUp)
}

// health is nil while every subscription receives.
func (st *status) health() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	var oldest brokenSince
	for _, b := range st.broken {
		if oldest.at.IsZero() || b.at.Before(oldest.at) {
			oldest = b
		}
	}
	if oldest.at.IsZero() {
		return nil
	}
	return st.r.sub.errorf(st.r.topic, lost(fmt.Sprintf(" for %v", time.Since(oldest.at).Round(time.Second)), oldest.err))
}

// stop releases the timer.
func (st *status) stop() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
}

// lost wraps herald.ErrSubscriptionLost, followed by detail, around
// cause, unless the driver's error wraps it already (then detail alone
// is added).
func lost(detail string, cause error) error {
	if errors.Is(cause, herald.ErrSubscriptionLost) {
		if detail == "" {
			return cause
		}
		return fmt.Errorf("%s: %w", strings.TrimPrefix(detail, ": "), cause)
	}
	return fmt.Errorf("%w%s: %w", herald.ErrSubscriptionLost, detail, cause)
}
