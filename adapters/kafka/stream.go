package kafka

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald/adapters"
)

// part is a stream's state of one partition assignment: the watermark of
// the records polled from it. Each assignment of a partition to the
// member gets a part of its own, so a token carries the assignment it
// came from (Token.Ref): once the partition is revoked or lost, the part
// is gone, its tokens are not Valid, and their settlements do nothing
// (the partition's next owner has the records).
type part struct {
	id       int32
	offs     offsets
	out      int             // records handed out by Receive, not settled or released
	queued   int             // records polled, not handed out yet
	mark     kgo.EpochOffset // commit to mark: after the settled prefix; Offset -1: none
	marked   int64           // offset of the last commit marked
	revoking bool            // a revoke waits for the records handed out
	gone     bool            // revoked, lost or the session expired
	drained  chan struct{}   // non-nil while a revoke waits for out to reach 0
}

func newPart(id int32) *part {
	return &part{id: id, mark: kgo.EpochOffset{Epoch: -1, Offset: -1}, marked: -1}
}

// stream is one adapters.Stream: a franz-go client consuming one topic,
// as a group member or a private consumer, with at most window records
// polled and not settled.
type stream struct {
	sub    *subscription
	topic  string
	window int
	guard  *netGuard
	cl     *kgo.Client
	h      *health
	sess   *session        // the group session's liveness; nil without a group
	ctx    context.Context // the poll loop's; cancelled by Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the loop ended
	wake   chan struct{} // Receive: deliveries queued
	space  chan struct{} // loop: window space freed

	mu        sync.Mutex
	queue     []adapters.Received // polled, not handed out
	unsettled int                 // polled, not settled, released or dropped
	parts     map[int32]*part
	closed    bool
	closing   bool  // Close is leaving the group: revokes do not wait
	broken    error // the group session may have expired: Receive returns it
	assigned  bool
	closeOnce sync.Once
	closeErr  error
}

var _ adapters.Stream = (*stream)(nil)

func (s *stream) signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Receive implements adapters.Stream.
func (s *stream) Receive(ctx context.Context, buf []adapters.Received) (int, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return 0, closedError(opSubscribe, s.topic)
		}
		if s.broken != nil {
			err := s.broken
			s.mu.Unlock()
			return 0, err
		}
		n := copy(buf, s.queue)
		if n > 0 {
			for i := range buf[:n] {
				pt := buf[i].Token.Ref.(*part)
				pt.queued--
				pt.out++
			}
			rest := copy(s.queue, s.queue[n:])
			clear(s.queue[rest:])
			s.queue = s.queue[:rest]
			if rest > 0 {
				s.signal(s.wake)
			}
			s.mu.Unlock()
			return n, nil
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-s.ctx.Done():
		}
	}
}

// settledLocked takes a record handed out of pt out of the window.
func (s *stream) settledLocked(pt *part) {
	pt.out--
	s.unsettled--
	s.signal(s.space)
	if pt.out == 0 && pt.drained != nil {
		close(pt.drained)
		pt.drained = nil
	}
}

// Ack implements adapters.Stream: the partition's commit offset moves up
// to the lowest record not settled. Acks of a partition the member no
// longer owns, or after Close, do nothing.
func (s *stream) Ack(t adapters.Token) {
	pt, ok := t.Ref.(*part)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || pt.gone {
		return
	}
	out, next, advanced := pt.offs.settle(int64(t.Seq))
	if out {
		s.settledLocked(pt)
	}
	if advanced {
		pt.mark = next
	}
}

// Nack implements adapters.Stream. The facade never calls it
// (Capabilities.Redelivery is RedeliverLocal: Kafka redelivers from a
// committed offset, not one record). Called anyway, it takes the record
// out of the window unsettled: its partition's commit stays behind it,
// and it comes again from the broker after a rebalance or a restart.
func (s *stream) Nack(t adapters.Token, _ time.Duration) {
	pt, ok := t.Ref.(*part)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || pt.gone {
		return
	}
	if pt.offs.release(int64(t.Seq)) {
		s.settledLocked(pt)
	}
}

// Valid implements adapters.Stream: false once the delivery's partition
// assignment ended (revoked, lost, or the group session expired: the
// partition's next owner gets the record) and after Close.
func (s *stream) Valid(t adapters.Token) bool {
	pt, ok := t.Ref.(*part)
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || pt.gone {
		return false
	}
	expired, _ := s.sess.expired() // checked here too: the stream's check runs every 200 ms
	return !expired
}

// Close implements adapters.Stream: it stops polling, commits what was
// settled (a group member) within ctx (5 s when ctx has no deadline),
// leaves the group and closes the client. Unsettled records come again
// (to the group's next owner).
func (s *stream) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { s.closeErr = s.close(ctx) })
	return s.closeErr
}

func (s *stream) close(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, closeTimeout)
		defer cancel()
	}
	s.mu.Lock()
	s.closed, s.closing = true, true
	broken := s.broken != nil
	s.mu.Unlock()
	s.h.stop()
	s.cancel()
	<-s.done
	if broken {
		// The session may be gone: nothing to commit (every assignment
		// ended), and the coordinator may not answer a leave.
		s.guard.abort()
	}
	var err error
	if s.sub.set.group != "" && !broken {
		s.markSettled()
		stop := context.AfterFunc(ctx, s.guard.abort)
		if cerr := s.cl.CommitMarkedOffsets(ctx); cerr != nil && ctx.Err() != nil {
			err = newError(opClose, s.topic, kindOf(cerr), fmt.Errorf("commit on close: %w", ctxErr(ctx, cerr)))
		}
		_ = s.cl.LeaveGroupContext(ctx)
		stop()
	}
	s.guard.abort()
	s.cl.Close()
	s.h.bg.Wait()
	s.sub.untrack(s)
	return err
}

// abort cuts the stream off without committing (a failed start, or the
// subscription closing a stream that is not ready).
func (s *stream) abort() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed, s.closing = true, true
		s.mu.Unlock()
		s.h.stop()
		s.cancel()
		s.guard.abort()
		<-s.done
		s.cl.Close()
		s.h.bg.Wait()
		s.sub.untrack(s)
	})
}
