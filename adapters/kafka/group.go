package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
)

// revokeWait bounds how long a revoked partition waits for its records
// handed out to be settled before its offset is committed (then the next
// owner gets the unsettled ones again); settings.revokeWait.
const revokeWait = 10 * time.Second

// onAssigned starts a new assignment (a part of its own) for each
// partition added.
func (s *stream) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	s.mu.Lock()
	s.assigned = true
	for _, p := range assigned[s.topic] {
		if old := s.parts[p]; old != nil {
			s.forgetLocked(old) // not revoked first: cannot happen, but the old tokens must die
		}
		s.parts[p] = newPart(p)
	}
	s.mu.Unlock()
	if s.sub.set.initialOffset != offsetNewest || len(assigned[s.topic]) == 0 {
		s.h.markReady()
	}
	s.h.recovered()
}

// onRevoked drops the queued records of the revoked partitions, waits (up
// to revokeWait, not during Close) for those handed out to be settled,
// commits the partitions' watermarks and forgets them: their tokens are
// no longer Valid and later settlements do nothing.
func (s *stream) onRevoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	s.mu.Lock()
	var wait []chan struct{}
	for _, p := range revoked[s.topic] {
		pt := s.parts[p]
		if pt == nil {
			continue
		}
		pt.revoking = true
		s.dropQueuedLocked(pt)
		if pt.out > 0 && !s.closing {
			pt.drained = make(chan struct{})
			wait = append(wait, pt.drained)
		}
	}
	s.mu.Unlock()
	t := time.NewTimer(s.sub.set.revokeWait)
	for _, ch := range wait {
		select {
		case <-ch:
		case <-t.C:
		case <-s.ctx.Done():
		}
	}
	t.Stop()
	// No settlement counts from now on: the commit below is final.
	s.mu.Lock()
	var done []*part
	for _, p := range revoked[s.topic] {
		if pt := s.parts[p]; pt != nil {
			s.forgetLocked(pt)
			done = append(done, pt)
		}
	}
	s.mu.Unlock()
	s.mark(done)
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	if err := cl.CommitMarkedOffsets(cctx); err != nil {
		s.sub.log.Debug("herald/kafka: commit on revoke failed", "topic", s.topic, "error", err)
	}
	cancel()
}

// onLost forgets partitions taken away without a chance to commit (the
// group session ended): their tokens are no longer Valid at once.
func (s *stream) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.mu.Lock()
	s.assigned = false
	s.mu.Unlock()
	s.forget(lost[s.topic])
	if len(lost[s.topic]) > 0 {
		s.h.fail("group", fmt.Errorf("partitions %v lost", lost[s.topic]))
	}
}

// checkSession breaks the stream once the broker may have expired the
// member's group session (see session): every assignment ends (its
// tokens are no longer Valid, its queued records are dropped) and
// Receive returns the error, so that the facade opens a new member.
func (s *stream) checkSession() {
	expired, since := s.sess.expired()
	if !expired {
		return
	}
	s.mu.Lock()
	if s.broken != nil || s.closed {
		s.mu.Unlock()
		return
	}
	s.broken = newError(opSubscribe, s.topic, herald.KindUnreachable, fmt.Errorf(
		"the group session may have expired: no heartbeat answered for %v (session_timeout %v), so its partitions may be another member's",
		since.Round(time.Millisecond), s.sess.timeout))
	for _, pt := range s.parts {
		s.forgetLocked(pt)
	}
	s.mu.Unlock()
	s.sub.log.Debug("herald/kafka: group session expired", "topic", s.topic, "group", s.sub.set.group)
	s.signal(s.wake)
}

// forget ends the assignments of parts.
func (s *stream) forget(parts []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range parts {
		if pt := s.parts[p]; pt != nil {
			s.forgetLocked(pt)
		}
	}
}

// forgetLocked ends pt's assignment: its queued records are dropped, its
// records handed out leave the window (their settlements do nothing), and
// its tokens are no longer Valid.
func (s *stream) forgetLocked(pt *part) {
	s.dropQueuedLocked(pt)
	s.unsettled -= pt.out
	pt.out = 0
	pt.gone = true
	if pt.drained != nil {
		close(pt.drained)
		pt.drained = nil
	}
	if s.parts[pt.id] == pt {
		delete(s.parts, pt.id)
	}
	s.signal(s.space)
}

// dropQueuedLocked removes pt's queued records (the next owner gets
// them); they leave the window.
func (s *stream) dropQueuedLocked(pt *part) {
	if pt.queued == 0 {
		return
	}
	q := s.queue[:0]
	for _, r := range s.queue {
		if r.Token.Ref == pt {
			s.unsettled--
			continue
		}
		q = append(q, r)
	}
	clear(s.queue[len(q):])
	s.queue = q
	pt.queued = 0
	s.signal(s.space)
}

// pinNewest starts the partitions the group has no committed offset for
// at the end offsets listed now, before consumption begins, so that a
// record published after Open returned is delivered.
func (s *stream) pinNewest(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	var ends map[int32]int64
	for p, o := range offsets[s.topic] {
		if o.EpochOffset().Offset >= 0 {
			continue
		}
		if ends == nil {
			var err error
			if ends, err = s.sub.admin.endOffsets(ctx, s.topic); err != nil {
				return offsets, nil // best effort: franz-go resolves the end itself
			}
		}
		if end, ok := ends[p]; ok {
			offsets[s.topic][p] = kgo.NewOffset().At(end)
		}
	}
	s.h.markReady()
	return offsets, nil
}
