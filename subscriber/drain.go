package subscriber

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/heraldkit/herald"
)

// drainGrace is how long handlers get after their context was cancelled
// before the drain detaches them.
const drainGrace = time.Second

// drain waits for the workers to finish the messages they hold. The wait
// is bounded by the drain timeout and, on Shutdown, by its context. When
// the bound is reached, handler contexts are cancelled; handlers still
// running a moment later are detached: they run on, but settle nothing,
// so their messages stay unacked and are redelivered, and the backend can
// be closed under them safely.
func (r *run) drain(workers *sync.WaitGroup, cancelHandlers context.CancelFunc) {
	done := make(chan struct{})
	go func() { workers.Wait(); close(done) }()
	limit := r.sub.shutdownLimit()
	timeout := r.sub.opts.drain
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	case <-limit.Done():
	}
	r.sub.opts.logger.Warn("herald: drain timeout expired; cancelling handlers", r.attrs("timeout", timeout, "handlers", r.inflight.Load())...)
	cancelHandlers()
	if limit.Err() == nil {
		t.Reset(drainGrace)
		select {
		case <-done:
			return
		case <-t.C:
		case <-limit.Done():
		}
	}
	r.settleMu.Lock()
	r.detached = true
	r.settleMu.Unlock()
	select {
	case <-done:
		return // finished while we detached: nothing was left behind
	default:
	}
	err := r.sub.errorf(r.topic, fmt.Errorf("%w: %d handlers still running after %v; they are detached and their messages stay unacked for redelivery",
		herald.ErrDrainTimeout, r.inflight.Load(), timeout))
	r.sub.opts.logger.Error("herald: handlers ignored cancellation; detached", r.attrs("error", err)...)
	r.hook(err)
}
