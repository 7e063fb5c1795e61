package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/flow"
)

// revokeWait bounds how long a revoked partition waits for its records
// handed out to be settled before its offset is committed (then the next
// owner gets the unsettled ones again).
const revokeWait = 10 * time.Second

// markInterval is how often settled offsets are marked for the group's
// commit (which runs every commitInterval, on revoke and on Close).
const markInterval = 200 * time.Millisecond

// commitInterval is how often a group member commits the offsets marked.
// A member killed without a chance to commit leaves up to this much (plus
// markInterval) of settled records uncommitted: the next owner gets them
// again (duplicates). Shorter means more OffsetCommit requests.
const commitInterval = 250 * time.Millisecond

// part is the consumer's state of one partition: the watermark of the
// records polled from it. A part whose partition was revoked is gone:
// settlements of its records are ignored (the next owner has them).
type part struct {
	id       int32
	wm       flow.Watermark
	out      int   // records handed out by Receive, not settled
	mark     int64 // commit offset to mark (watermark+1); -1: none
	marked   int64 // last commit offset marked
	gone     bool
	drained  chan struct{} // non-nil while a revoke waits for out to reach 0
	revoking bool
}

// consumer is one Stream: a franz-go client consuming one topic, as a
// group member or a private consumer, with at most window records polled
// and not settled.
type consumer struct {
	sub    *Subscriber
	topic  string
	window int
	guard  *netGuard
	cl     *kgo.Client
	h      *health
	ctx    context.Context // the poll loop's; cancelled by Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the loop ended
	wake   chan struct{} // Receive: deliveries queued
	space  chan struct{} // loop: window space freed

	mu        sync.Mutex
	queue     []adapters.Delivery // polled or due again, not handed out
	unsettled int                 // polled, not settled (queued, handed out, held)
	parts     map[int32]*part
	timers    map[*time.Timer]struct{} // nack delays running
	closed    bool
	closing   bool // Close is leaving the group: revokes do not wait
	broken    error
	assigned  bool
	unwatch   func() // stops status reports to the Stream's context
}

var _ adapters.Stream = (*consumer)(nil)

// Stream starts consuming topic (adapters.StreamSubscriber): a group
// member of its own (or a private consumer reading every partition), with
// at most window records polled and not settled (0: the window option,
// 256 by default). It returns once the
// consumer is ready: partitions assigned and their starting offsets
// known.
func (s *Subscriber) Stream(ctx context.Context, topic string, window int) (adapters.Stream, error) {
	if s.isClosed() {
		return nil, closedError("subscribe to", topic)
	}
	if window < 1 {
		window = s.set.window // the caller's default: the window option
	}
	if err := s.admin.ensure(ctx, topic); err != nil {
		return nil, s.subscribeError(topic, err)
	}
	c, err := s.startConsumer(ctx, topic, window)
	if err != nil {
		return nil, err
	}
	c.unwatch = c.h.watch(ctx)
	return c, nil
}

func (s *Subscriber) startConsumer(ctx context.Context, topic string, window int) (*consumer, error) {
	g := newNetGuard(10*time.Second, 0)
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c := &consumer{
		sub: s, topic: topic, window: window, guard: g, ctx: lctx, cancel: cancel,
		done: make(chan struct{}), wake: make(chan struct{}, 1), space: make(chan struct{}, 1),
		parts: map[int32]*part{}, timers: map[*time.Timer]struct{}{},
	}
	c.h = newHealth(lctx, s, topic, c.inSync)
	g.onDialError = func(err error) { c.h.fail("connect to broker", err) }
	opts := []kgo.Opt{
		kgo.FetchMaxWait(500 * time.Millisecond),
	}
	if s.set.group != "" {
		opts = append(opts,
			kgo.ConsumerGroup(s.set.group),
			kgo.ConsumeTopics(topic),
			kgo.BlockRebalanceOnPoll(),
			kgo.AutoCommitMarks(),
			kgo.AutoCommitInterval(commitInterval),
			kgo.OnPartitionsAssigned(c.onAssigned),
			kgo.OnPartitionsRevoked(c.onRevoked),
			kgo.OnPartitionsLost(c.onLost),
			kgo.SessionTimeout(s.set.sessionTimeout),
			kgo.HeartbeatInterval(min(time.Second, s.set.sessionTimeout/3)),
		)
		if s.set.initialOffset == offsetNewest {
			opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.AdjustFetchOffsetsFn(c.pinNewest))
		} else {
			opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		}
	} else {
		start, err := s.startOffsets(ctx, topic)
		if err != nil {
			cancel()
			return nil, s.subscribeError(topic, err)
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}))
	}
	stop := g.abortOn(ctx)
	cl, err := kgo.NewClient(append(s.set.clientOpts(g), opts...)...)
	if err != nil {
		stop()
		cancel()
		return nil, opError("subscribe to", topic, err)
	}
	c.cl = cl
	if !s.track(c) {
		stop()
		cl.Close()
		cancel()
		return nil, closedError("subscribe to", topic)
	}
	go c.loop()
	if s.set.group == "" {
		c.h.markReady()
	}
	err = s.waitReady(ctx, c.h)
	if !stop() && err == nil {
		err = opError("subscribe to", topic, context.Cause(ctx))
	}
	if err != nil {
		c.abort()
		return nil, err
	}
	return c, nil
}

// startOffsets returns where a private consumer starts on each partition:
// the end offsets listed now (initial_offset=newest), so a record
// published after Stream returned is delivered, or the start.
func (s *Subscriber) startOffsets(ctx context.Context, topic string) (map[int32]kgo.Offset, error) {
	ends, err := s.admin.endOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	start := make(map[int32]kgo.Offset, len(ends))
	for p, end := range ends {
		if s.set.initialOffset == offsetNewest {
			start[p] = kgo.NewOffset().At(end)
		} else {
			start[p] = kgo.NewOffset().AtStart()
		}
	}
	return start, nil
}

// pinNewest starts the partitions the group has no committed offset for
// at the end offsets listed now, before consumption begins, so that a
// record published after Stream returned is delivered.
func (c *consumer) pinNewest(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	var ends map[int32]int64
	for p, o := range offsets[c.topic] {
		if o.EpochOffset().Offset >= 0 {
			continue
		}
		if ends == nil {
			var err error
			if ends, err = c.sub.admin.endOffsets(ctx, c.topic); err != nil {
				return offsets, nil // best effort: franz-go resolves the end itself
			}
		}
		if end, ok := ends[p]; ok {
			offsets[c.topic][p] = kgo.NewOffset().At(end)
		}
	}
	c.h.markReady()
	return offsets, nil
}

func (c *consumer) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	c.mu.Lock()
	c.assigned = true
	for _, p := range assigned[c.topic] {
		c.parts[p] = &part{id: p, mark: -1, marked: -1}
	}
	c.mu.Unlock()
	if c.sub.set.initialOffset != offsetNewest || len(assigned[c.topic]) == 0 {
		c.h.markReady()
	}
	c.h.recovered()
}

// onRevoked waits (up to revokeWait, not during Close) for the records of
// the revoked partitions handed out to be settled, commits their
// watermarks and forgets them: later settlements are ignored.
func (c *consumer) onRevoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	c.mu.Lock()
	var wait []chan struct{}
	for _, p := range revoked[c.topic] {
		pt := c.parts[p]
		if pt == nil {
			continue
		}
		pt.revoking = true
		c.dropQueuedLocked(pt)
		if pt.out > 0 && !c.closing {
			pt.drained = make(chan struct{})
			wait = append(wait, pt.drained)
		}
	}
	c.mu.Unlock()
	t := time.NewTimer(revokeWait)
	for _, ch := range wait {
		select {
		case <-ch:
		case <-t.C:
		case <-c.ctx.Done():
		}
	}
	t.Stop()
	c.markSettled()
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	if err := cl.CommitMarkedOffsets(cctx); err != nil {
		c.sub.log.Debug("herald/kafka: commit on revoke failed", "topic", c.topic, "error", err)
	}
	cancel()
	c.forget(revoked[c.topic])
}

// onLost forgets partitions taken away without a chance to commit.
func (c *consumer) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	c.mu.Lock()
	c.assigned = false
	for _, p := range lost[c.topic] {
		if pt := c.parts[p]; pt != nil {
			c.dropQueuedLocked(pt)
		}
	}
	c.mu.Unlock()
	c.forget(lost[c.topic])
	if len(lost[c.topic]) > 0 {
		c.h.fail("group", fmt.Errorf("partitions %v lost", lost[c.topic]))
	}
}

func (c *consumer) forget(parts []int32) {
	c.mu.Lock()
	for _, p := range parts {
		if pt := c.parts[p]; pt != nil {
			pt.gone = true
			pt.wm.Reset()
			delete(c.parts, p)
		}
	}
	c.mu.Unlock()
}

// dropQueuedLocked removes pt's queued deliveries (the next owner gets
// them); they leave the window.
func (c *consumer) dropQueuedLocked(pt *part) {
	q := c.queue[:0]
	for _, d := range c.queue {
		if d.Ref == pt {
			c.unsettled--
			continue
		}
		q = append(q, d)
	}
	clear(c.queue[len(q):])
	c.queue = q
	c.signal(c.space)
}

func (c *consumer) inSync() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.assigned
}

func (c *consumer) signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// loop polls records while the window has room and queues them for
// Receive; it marks settled offsets for the group's commits.
func (c *consumer) loop() {
	defer close(c.done)
	marker := make(chan struct{})
	go func() { // marks while the loop waits in a poll
		defer close(marker)
		tick := time.NewTicker(markInterval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				c.markSettled()
			case <-c.ctx.Done():
				return
			}
		}
	}()
	defer func() { <-marker }()
	for {
		c.mu.Lock()
		room := c.window - c.unsettled
		c.mu.Unlock()
		if room <= 0 {
			select {
			case <-c.space:
				continue
			case <-c.ctx.Done():
				return
			}
		}
		fetches := c.cl.PollRecords(c.ctx, room)
		if c.ctx.Err() != nil {
			c.cl.AllowRebalance()
			return
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
				return
			}
			c.h.fail(fmt.Sprintf("fetch partition %d", p), err)
		})
		n := 0
		c.mu.Lock()
		fetches.EachRecord(func(rec *kgo.Record) {
			pt := c.parts[rec.Partition]
			if pt == nil {
				if c.sub.set.group != "" {
					return // not assigned (any more)
				}
				pt = &part{id: rec.Partition, mark: -1, marked: -1}
				c.parts[rec.Partition] = pt
			}
			if pt.revoking {
				return
			}
			pt.wm.Add(uint64(rec.Offset))
			msg := newMessage(rec)
			c.queue = append(c.queue, adapters.Delivery{
				Msg: msg, Key: msg.Metadata[herald.KeyHeader], Attempt: 1,
				Ref: pt, Seq: uint64(rec.Offset), Part: rec.Partition,
			})
			c.unsettled++
			n++
		})
		c.mu.Unlock()
		c.cl.AllowRebalance()
		if n > 0 {
			c.signal(c.wake)
			c.h.recovered()
		}
	}
}

// markSettled marks each partition's commit offset (watermark + 1) for
// the group's next commit.
func (c *consumer) markSettled() {
	if c.sub.set.group == "" {
		return
	}
	var marks map[int32]kgo.EpochOffset
	c.mu.Lock()
	for p, pt := range c.parts {
		if pt.mark > pt.marked {
			if marks == nil {
				marks = map[int32]kgo.EpochOffset{}
			}
			marks[p] = kgo.EpochOffset{Epoch: -1, Offset: pt.mark}
			pt.marked = pt.mark
		}
	}
	c.mu.Unlock()
	if marks != nil {
		c.cl.MarkCommitOffsets(map[string]map[int32]kgo.EpochOffset{c.topic: marks})
	}
}

// Receive implements adapters.Stream.
func (c *consumer) Receive(ctx context.Context, buf []adapters.Delivery) (int, error) {
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return 0, closedError("subscribe to", c.topic)
		case c.broken != nil:
			err := c.broken
			c.mu.Unlock()
			return 0, err
		}
		n := copy(buf, c.queue)
		if n > 0 {
			for i := range buf[:n] {
				buf[i].Ref.(*part).out++
			}
			rest := copy(c.queue, c.queue[n:])
			clear(c.queue[rest:])
			c.queue = c.queue[:rest]
			if rest > 0 {
				c.signal(c.wake)
			}
			c.mu.Unlock()
			return n, nil
		}
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-c.ctx.Done():
		}
	}
}

// Ack implements adapters.Stream: the partition's commit offset moves up
// to the lowest record not settled.
func (c *consumer) Ack(d adapters.Delivery) {
	pt, ok := d.Ref.(*part)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.unsettled--
	c.signal(c.space)
	if pt.gone {
		return
	}
	c.settledLocked(pt)
	if upTo, ok := pt.wm.Done(d.Seq); ok {
		pt.mark = int64(upTo) + 1
	}
}

func (c *consumer) settledLocked(pt *part) {
	pt.out--
	if pt.out == 0 && pt.drained != nil {
		close(pt.drained)
		pt.drained = nil
	}
}

// Nack implements adapters.Stream: the record is delivered again by this
// stream after delay; its partition's commit offset stays behind it.
func (c *consumer) Nack(d adapters.Delivery, delay time.Duration) {
	pt, ok := d.Ref.(*part)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if pt.gone || pt.revoking {
		c.unsettled--
		c.signal(c.space)
		if !pt.gone {
			c.settledLocked(pt)
		}
		return
	}
	c.settledLocked(pt)
	d.Attempt++
	if delay <= 0 {
		c.queue = append(c.queue, d)
		c.signal(c.wake)
		return
	}
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, live := c.timers[t]; !live {
			return
		}
		delete(c.timers, t)
		if pt.gone || pt.revoking {
			c.unsettled--
			c.signal(c.space)
			return
		}
		c.queue = append(c.queue, d)
		c.signal(c.wake)
	})
	c.timers[t] = struct{}{}
}

// Close implements adapters.Stream: it stops polling, commits what was
// settled (a group member), leaves the group and closes the client.
// Unsettled records are delivered again (to the group's next owner).
func (c *consumer) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed, c.closing = true, true
	for t := range c.timers {
		t.Stop()
	}
	clear(c.timers)
	c.mu.Unlock()
	c.h.stop()
	c.cancel()
	<-c.done
	var err error
	if c.sub.set.group != "" {
		c.markSettledClosed()
		stop := context.AfterFunc(ctx, c.guard.abort)
		if cerr := c.cl.CommitMarkedOffsets(ctx); cerr != nil && ctx.Err() != nil {
			err = opError("subscribe to", c.topic, fmt.Errorf("commit on close: %w", ctxError(ctx, cerr)))
		}
		_ = c.cl.LeaveGroupContext(ctx)
		stop()
	}
	c.guard.abort()
	c.cl.Close()
	c.h.bg.Wait()
	if c.unwatch != nil {
		c.unwatch()
	}
	c.sub.untrack(c)
	return err
}

// gone reports whether d's partition was revoked or lost: its record
// belongs to the partition's next owner.
func (c *consumer) gone(d adapters.Delivery) bool {
	pt, ok := d.Ref.(*part)
	if !ok {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return pt.gone || pt.revoking
}

// markSettledClosed marks the settled offsets once the stream is closed
// (markSettled skips nothing: closed only stops new settlements).
func (c *consumer) markSettledClosed() { c.markSettled() }

// abort cuts the consumer off without committing (a failed start, or the
// subscriber closing a consumer that is not ready).
func (c *consumer) abort() {
	c.mu.Lock()
	c.closed, c.closing = true, true
	c.mu.Unlock()
	c.h.stop()
	c.cancel()
	c.guard.abort()
	<-c.done
	c.cl.Close()
	c.h.bg.Wait()
	c.sub.untrack(c)
}
