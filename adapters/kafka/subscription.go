package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// readyTimeout bounds how long Open waits for the group to assign
// partitions; a rebalance waits for the other members.
const readyTimeout = 75 * time.Second

// closeTimeout bounds how long Subscription.Close waits for a stream to
// commit and leave its group when its ctx has no deadline.
const closeTimeout = 5 * time.Second

// subscription is the adapters.Subscription of one group (or of private
// consumers): a metadata and admin client, and one franz-go consumer per
// stream opened.
type subscription struct {
	set   settings
	log   *slog.Logger
	guard *netGuard // the admin client's connections
	cl    *kgo.Client
	admin *admin

	mu      sync.Mutex
	streams map[*stream]struct{}
	closed  bool
	closing chan struct{}
	once    sync.Once
}

var _ adapters.Subscription = (*subscription)(nil)

func newSubscription(ctx context.Context, s settings, log *slog.Logger) (*subscription, error) {
	g := newNetGuard(s.connectTimeout, 0)
	cl, err := connect(ctx, "subscriber", s, g)
	if err != nil {
		g.abort()
		return nil, err
	}
	return &subscription{
		set: s, log: log, guard: g, cl: cl, admin: newAdmin(g.ctx, cl, s),
		streams: map[*stream]struct{}{}, closing: make(chan struct{}),
	}, nil
}

func (sub *subscription) isClosed() bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.closed
}

// track registers a stream for Close; false once closed.
func (sub *subscription) track(s *stream) bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.closed {
		return false
	}
	sub.streams[s] = struct{}{}
	return true
}

func (sub *subscription) untrack(s *stream) {
	sub.mu.Lock()
	delete(sub.streams, s)
	sub.mu.Unlock()
}

// topicError is the error of a failed topic creation or lookup for op.
func (sub *subscription) topicError(op, topic string, err error) error {
	if errors.Is(err, herald.ErrClosed) || sub.isClosed() {
		return closedError(op, topic)
	}
	return opError(op, topic, denied(sub.set.username, err))
}

// Prepare implements adapters.Subscription: it creates topic when missing
// (with the configured partitions, replication and max.message.bytes),
// so that a group starting at the oldest record (the default) keeps what
// is published from now on. A group with start=newest also gets
// the current end offsets committed for the partitions it has no commit
// for (see commitEnds), so that it too keeps what is published from now
// on.
func (sub *subscription) Prepare(ctx context.Context, topic string) error {
	if sub.isClosed() {
		return closedError(opPrepare, topic)
	}
	if err := sub.admin.ensure(ctx, topic); err != nil {
		return sub.topicError(opPrepare, topic, err)
	}
	if sub.set.group != "" && sub.set.initialOffset == offsetNewest {
		if err := sub.commitEnds(ctx, topic); err != nil {
			return sub.topicError(opPrepare, topic, err)
		}
	}
	return nil
}

// commitEnds commits, for the group, the end offsets (with their leader
// epochs) of the partitions of topic it has no commit for. A group with
// members refuses commits from outside: its members commit themselves,
// so that is not an error.
func (sub *subscription) commitEnds(ctx context.Context, topic string) error {
	committed, err := sub.admin.adm.FetchOffsets(ctx, sub.set.group)
	if err != nil {
		return err
	}
	ends, err := sub.admin.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return err
	}
	if err := ends.Error(); err != nil {
		return err
	}
	var todo kadm.Offsets
	ends.Each(func(o kadm.ListedOffset) {
		if c, ok := committed.Lookup(topic, o.Partition); ok && c.Err == nil && c.At >= 0 {
			return
		}
		todo.Add(kadm.Offset{Topic: topic, Partition: o.Partition, At: o.Offset, LeaderEpoch: o.LeaderEpoch})
	})
	if len(todo) == 0 {
		return nil
	}
	resp, err := sub.admin.adm.CommitOffsets(ctx, sub.set.group, todo)
	if err == nil {
		err = resp.Error()
	}
	if benign(err) {
		return nil
	}
	return err
}

// Open implements adapters.Subscription: a consumer of its own, a group
// member (or a private consumer reading every partition), with at most
// o.Window records polled and not settled. It returns once the consumer
// is ready: partitions assigned and their starting offsets known, so a
// record published after Open returned is delivered.
func (sub *subscription) Open(ctx context.Context, topic string, o adapters.StreamOptions) (adapters.Stream, error) {
	if sub.isClosed() {
		return nil, closedError(opSubscribe, topic)
	}
	if err := validTopic(topic); err != nil {
		return nil, newError(opSubscribe, topic, herald.KindInvalid, err)
	}
	if o.Window < 1 {
		o.Window = defaultWindow
	}
	if o.Status == nil {
		o.Status = func(error) {}
	}
	if err := sub.admin.ensure(ctx, topic); err != nil {
		return nil, sub.topicError(opSubscribe, topic, err)
	}
	return sub.startStream(ctx, topic, o)
}

func (sub *subscription) startStream(ctx context.Context, topic string, o adapters.StreamOptions) (*stream, error) {
	g := newNetGuard(sub.set.connectTimeout, 0)
	lctx, cancel := context.WithCancel(context.Background())
	s := &stream{
		sub: sub, topic: topic, window: o.Window, guard: g, ctx: lctx, cancel: cancel,
		done: make(chan struct{}), wake: make(chan struct{}, 1), space: make(chan struct{}, 1),
		parts: map[int32]*part{},
	}
	s.h = newHealth(lctx, s, o.Status)
	s.h.healthy = s.healthy
	g.onDialError = func(err error) { s.h.fail("connect to broker", err) }
	opts := []kgo.Opt{
		kgo.FetchMaxWait(500 * time.Millisecond),
	}
	if sub.set.group != "" {
		s.sess = newSession(sub.set.sessionTimeout)
		opts = append(opts,
			kgo.ConsumerGroup(sub.set.group),
			kgo.ConsumeTopics(topic),
			kgo.BlockRebalanceOnPoll(),
			kgo.AutoCommitMarks(),
			kgo.AutoCommitInterval(commitInterval),
			kgo.OnPartitionsAssigned(s.onAssigned),
			kgo.OnPartitionsRevoked(s.onRevoked),
			kgo.OnPartitionsLost(s.onLost),
			kgo.SessionTimeout(sub.set.sessionTimeout),
			kgo.HeartbeatInterval(min(time.Second, sub.set.sessionTimeout/3)),
			kgo.WithHooks(s.sess, groupErrors{s.h}),
		)
		if sub.set.initialOffset == offsetNewest {
			opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.AdjustFetchOffsetsFn(s.pinNewest))
		} else {
			opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		}
	} else {
		start, err := sub.startOffsets(ctx, topic)
		if err != nil {
			cancel()
			return nil, sub.topicError(opSubscribe, topic, err)
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}))
	}
	stop := g.abortOn(ctx)
	cl, err := kgo.NewClient(append(sub.set.clientOpts(g), opts...)...)
	if err != nil {
		stop()
		cancel()
		return nil, opError(opSubscribe, topic, err)
	}
	s.cl = cl
	if !sub.track(s) {
		stop()
		cl.Close()
		cancel()
		return nil, closedError(opSubscribe, topic)
	}
	go s.loop()
	if sub.set.group == "" {
		s.h.markReady()
	}
	err = sub.waitReady(ctx, s.h)
	if !stop() && err == nil {
		err = newError(opSubscribe, topic, herald.KindUnreachable, ctxErr(ctx, s.h.lastError()))
	}
	if err != nil {
		s.abort()
		return nil, err
	}
	return s, nil
}

// groupErrors passes the errors of franz-go's group management to the
// stream's health (kgo.HookGroupManageError).
type groupErrors struct{ h *health }

// OnGroupManageError implements kgo.HookGroupManageError.
func (ge groupErrors) OnGroupManageError(err error) { ge.h.fail("group", err) }

// healthy reports whether a stream that failed works again: every
// partition of its topic has a leader that answers and, with a group, the
// member holds an assignment.
func (s *stream) healthy() bool {
	if s.sub.admin.leadersReady(s.ctx, s.topic) != nil {
		return false
	}
	if s.sub.set.group == "" {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.assigned
}

// startOffsets returns where a private consumer starts on each partition:
// the end offsets listed now (start=newest), so a record
// published after Open returned is delivered, or the start.
func (sub *subscription) startOffsets(ctx context.Context, topic string) (map[int32]kgo.Offset, error) {
	ends, err := sub.admin.endOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	start := make(map[int32]kgo.Offset, len(ends))
	for p, end := range ends {
		if sub.set.initialOffset == offsetNewest {
			start[p] = kgo.NewOffset().At(end)
		} else {
			start[p] = kgo.NewOffset().AtStart()
		}
	}
	return start, nil
}

func (sub *subscription) waitReady(ctx context.Context, h *health) error {
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case <-h.ready:
		return nil
	case err := <-h.refused:
		return newError(opSubscribe, h.topic, herald.KindDenied, denied(sub.set.username, err))
	case <-ctx.Done():
		err := fmt.Errorf("waiting for the group to assign partitions: %w", context.Cause(ctx))
		if last := h.lastError(); last != nil {
			err = fmt.Errorf("%w (last error: %w)", err, last)
		}
		return newError(opSubscribe, h.topic, herald.KindUnreachable, err)
	case <-sub.closing:
		return closedError(opSubscribe, h.topic)
	case <-timer.C:
		err := fmt.Errorf("group %q assigned no partitions within %v", sub.set.group, readyTimeout)
		if last := h.lastError(); last != nil {
			err = fmt.Errorf("%w (last error: %w)", err, last)
		}
		return newError(opSubscribe, h.topic, herald.KindUnreachable, err)
	}
}

// Close implements adapters.Subscription: every stream still open is
// closed (committing what was settled and leaving the group, within ctx,
// or 5 s when ctx has no deadline); a stream still joining its group is
// cut off. Then the connections close. It is idempotent.
func (sub *subscription) Close(ctx context.Context) error {
	sub.once.Do(func() {
		sub.mu.Lock()
		sub.closed = true
		close(sub.closing)
		var ready []*stream
		for s := range sub.streams {
			if !s.h.isReady() {
				s.h.stop()
				s.guard.abort() // still joining its group: cut it off
				continue
			}
			ready = append(ready, s)
		}
		sub.mu.Unlock()
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, closeTimeout)
			defer cancel()
		}
		var wg sync.WaitGroup
		for _, s := range ready {
			wg.Go(func() { _ = s.Close(ctx) })
		}
		wg.Wait()
		sub.guard.abort()
		sub.admin.close()
		sub.cl.Close()
	})
	return nil
}

// As implements adapters.Subscription. Targets:
//
//   - **kgo.Client: the subscription's metadata and admin client (each
//     stream has a client of its own, not reachable)
//   - **kadm.Client: the admin client that creates topics
//
// Closing them is the Subscription's job.
func (sub *subscription) As(target any) bool {
	switch t := target.(type) {
	case **kgo.Client:
		*t = sub.cl
	case **kadm.Client:
		*t = sub.admin.adm
	default:
		return false
	}
	return true
}
