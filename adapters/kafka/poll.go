package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// markInterval is how often settled offsets are marked for the group's
// commit (which runs every commitInterval, on revoke and on Close).
const markInterval = 200 * time.Millisecond

// commitInterval is how often a group member commits the offsets marked.
// A member killed without a chance to commit leaves up to this much (plus
// markInterval) of settled records uncommitted: the next owner gets them
// again (duplicates). Shorter means more OffsetCommit requests.
const commitInterval = 250 * time.Millisecond

// loop polls records while the window has room and queues them for
// Receive; a goroutine marks settled offsets for the group's commits.
func (s *stream) loop() {
	defer close(s.done)
	marker := make(chan struct{})
	go func() { // marks while the loop waits in a poll
		defer close(marker)
		tick := time.NewTicker(markInterval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				s.markSettled()
				if s.sess != nil {
					s.checkSession()
				}
			case <-s.ctx.Done():
				return
			}
		}
	}()
	defer func() { <-marker }()
	for {
		s.mu.Lock()
		room := s.window - s.unsettled
		s.mu.Unlock()
		if room <= 0 {
			select {
			case <-s.space:
				continue
			case <-s.ctx.Done():
				return
			}
		}
		fetches := s.cl.PollRecords(s.ctx, room)
		if s.ctx.Err() != nil {
			s.cl.AllowRebalance()
			return
		}
		fetches.EachError(func(_ string, p int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
				return
			}
			s.h.fail(fmt.Sprintf("fetch partition %d", p), err)
		})
		n := s.queueRecords(fetches)
		s.cl.AllowRebalance()
		if n > 0 {
			s.signal(s.wake)
			s.h.recovered()
		}
	}
}

// queueRecords queues the records polled from partitions the stream
// owns and returns how many.
func (s *stream) queueRecords(fetches kgo.Fetches) int {
	n := 0
	s.mu.Lock()
	defer s.mu.Unlock()
	fetches.EachRecord(func(rec *kgo.Record) {
		pt := s.parts[rec.Partition]
		if pt == nil {
			if s.sub.set.group != "" {
				return // not assigned (any more)
			}
			pt = newPart(rec.Partition)
			s.parts[rec.Partition] = pt
		}
		if pt.revoking || pt.gone {
			return
		}
		pt.offs.add(rec.Offset, rec.LeaderEpoch)
		pt.queued++
		msg := newMessage(rec)
		s.queue = append(s.queue, adapters.Received{
			Msg:   msg,
			Key:   msg.Metadata[herald.KeyHeader],
			Time:  rec.Timestamp,
			Token: adapters.Token{Seq: uint64(rec.Offset), Part: rec.Partition, Ref: pt},
		})
		s.unsettled++
		n++
	})
	return n
}

// markSettled marks the commit offset of each partition the stream owns
// for the group's next commit.
func (s *stream) markSettled() {
	if s.sub.set.group == "" {
		return
	}
	s.mu.Lock()
	parts := make([]*part, 0, len(s.parts))
	for _, pt := range s.parts {
		parts = append(parts, pt)
	}
	s.mu.Unlock()
	s.mark(parts)
}

// mark marks the commit offsets of parts that moved: the offset after
// each one's settled prefix, with the leader epoch of the prefix's last
// record (see offsets).
func (s *stream) mark(parts []*part) {
	if s.sub.set.group == "" {
		return
	}
	var marks map[int32]kgo.EpochOffset
	s.mu.Lock()
	for _, pt := range parts {
		if pt.mark.Offset > pt.marked {
			if marks == nil {
				marks = map[int32]kgo.EpochOffset{}
			}
			marks[pt.id] = pt.mark
			pt.marked = pt.mark.Offset
		}
	}
	s.mu.Unlock()
	if marks != nil {
		s.cl.MarkCommitOffsets(map[string]map[int32]kgo.EpochOffset{s.topic: marks})
	}
}
