package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// readyTimeout bounds how long Subscribe waits for the group to assign
// partitions; a rebalance waits for the other members.
const readyTimeout = 75 * time.Second

// nackResend is how soon a nacked message without a delay comes again.
const nackResend = 100 * time.Millisecond

// Subscriber is the Watermill subscriber the kafka adapter returns, built
// on franz-go. Stream (adapters.StreamSubscriber) opens a consumer of its
// own per call; the Subscribe calls made on one Subscriber for the same
// topic share one consumer (one group member, or one private consumer) and
// compete for its messages. Both return once the consumer is ready: group
// partitions assigned and starting offsets known, so a message published
// after they returned is delivered.
type Subscriber struct {
	set   settings
	log   *slog.Logger
	guard *netGuard // the admin client's connections
	cl    *kgo.Client
	admin *admin

	mu        sync.Mutex
	shared    map[string]*shared // Subscribe consumers by topic
	consumers map[*consumer]struct{}
	closed    bool // Close has begun
	closing   chan struct{}
	wg        sync.WaitGroup // dispatchers, watchers, releases
}

var (
	_ message.Subscriber           = (*Subscriber)(nil)
	_ message.SubscribeInitializer = (*Subscriber)(nil)
	_ adapters.StreamSubscriber    = (*Subscriber)(nil)
)

func newSubscriber(ctx context.Context, s settings) (*Subscriber, error) {
	g := newNetGuard(10*time.Second, 0)
	cl, err := connect(ctx, s, g)
	if err != nil {
		g.abort()
		return nil, openError("subscriber", s, err)
	}
	return &Subscriber{
		set:       s,
		log:       adapters.Logger(ctx),
		guard:     g,
		cl:        cl,
		admin:     newAdmin(g.ctx, cl, s),
		shared:    map[string]*shared{},
		consumers: map[*consumer]struct{}{},
		closing:   make(chan struct{}),
	}, nil
}

// track registers a consumer for Close; false once closed.
func (s *Subscriber) track(c *consumer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.consumers[c] = struct{}{}
	return true
}

func (s *Subscriber) untrack(c *consumer) {
	s.mu.Lock()
	delete(s.consumers, c)
	s.mu.Unlock()
}

// shared is the consumer behind the Subscribe calls for one topic. It
// hands out one record per partition at a time, in order, as
// watermill-kafka does: the next record of a partition goes out once the
// previous one was acked, and a nacked record goes out again (after its
// delay) before the later ones.
type shared struct {
	c        *consumer
	refs     int           // guarded by Subscriber.mu
	started  chan struct{} // closed once c or err is set
	err      error
	inflight sync.WaitGroup // messages handed out, not settled
	pumpDone chan struct{}

	mu      sync.Mutex
	queues  map[int32][]adapters.Delivery // received, not acked, per partition
	busy    map[int32]bool                // the partition's head is handed out
	order   []int32                       // partitions in the order first seen
	next    int                           // round-robin position in order
	changed chan struct{}                 // closed and replaced when a head may be free
}

func newShared() *shared {
	return &shared{
		refs: 1, started: make(chan struct{}), pumpDone: make(chan struct{}),
		queues: map[int32][]adapters.Delivery{}, busy: map[int32]bool{}, changed: make(chan struct{}),
	}
}

// notifyLocked wakes the dispatchers waiting for a record.
func (sh *shared) notifyLocked() {
	close(sh.changed)
	sh.changed = make(chan struct{})
}

// pump receives the consumer's records into the partition queues.
func (sh *shared) pump() {
	defer close(sh.pumpDone)
	buf := make([]adapters.Delivery, 64)
	for {
		n, err := sh.c.Receive(sh.c.ctx, buf)
		if err != nil {
			return
		}
		sh.mu.Lock()
		for _, d := range buf[:n] {
			q, seen := sh.queues[d.Part]
			if !seen {
				sh.order = append(sh.order, d.Part)
			}
			sh.queues[d.Part] = append(q, d)
		}
		sh.notifyLocked()
		sh.mu.Unlock()
		clear(buf[:n])
	}
}

// take returns the head of a partition that is not busy, marking it busy,
// or waits for one until ctx ends, Close begins or the pump stops. Heads
// of revoked partitions are dropped on the way (the next owner has them).
func (sh *shared) take(ctx context.Context, closing <-chan struct{}) (adapters.Delivery, bool) {
	for {
		sh.mu.Lock()
		for i := range sh.order {
			k := (sh.next + i) % len(sh.order)
			p := sh.order[k]
			q := sh.queues[p]
			for len(q) > 0 && !sh.busy[p] && sh.c.gone(q[0]) {
				sh.c.Nack(q[0], 0) // only frees its place in the window
				q[0] = adapters.Delivery{}
				q = q[1:]
			}
			sh.queues[p] = q
			if len(q) > 0 && !sh.busy[p] {
				sh.busy[p] = true
				sh.next = k + 1
				sh.mu.Unlock()
				return q[0], true
			}
		}
		changed := sh.changed
		sh.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return adapters.Delivery{}, false
		case <-closing:
			return adapters.Delivery{}, false
		case <-sh.pumpDone:
			return adapters.Delivery{}, false
		}
	}
}

// acked removes d, its partition's head, and frees the partition.
func (sh *shared) acked(d adapters.Delivery) {
	sh.mu.Lock()
	if q := sh.queues[d.Part]; len(q) > 0 && q[0].Seq == d.Seq {
		q[0] = adapters.Delivery{}
		sh.queues[d.Part] = q[1:]
	}
	sh.busy[d.Part] = false
	sh.notifyLocked()
	sh.mu.Unlock()
	sh.c.Ack(d)
}

// again frees d's partition with d still its head, to be handed out
// again (a nack, or a Subscribe call that could not hand it out).
func (sh *shared) again(d adapters.Delivery, redelivery bool) {
	sh.mu.Lock()
	if q := sh.queues[d.Part]; redelivery && len(q) > 0 && q[0].Seq == d.Seq {
		q[0].Attempt++
	}
	sh.busy[d.Part] = false
	sh.notifyLocked()
	sh.mu.Unlock()
}

// Subscribe returns the messages of topic, creating the topic when
// missing. It returns once the consumer is ready (see Subscriber), or when
// ctx ends or Close begins, whichever comes first; the channel is closed
// when ctx is cancelled or the Subscriber is closed. A subscription that
// breaks later is reported with adapters.ReportStatus on ctx.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if s.isClosed() {
		return nil, closedError("subscribe to", topic)
	}
	if err := s.admin.ensure(ctx, topic); err != nil {
		return nil, s.subscribeError(topic, err)
	}
	sh, err := s.acquire(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.release(topic, sh)
		return nil, closedError("subscribe to", topic)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	unwatch := sh.c.h.watch(ctx)
	go s.dispatch(ctx, topic, sh, out, unwatch)
	return out, nil
}

// acquire returns the topic's shared consumer, starting it if needed, and
// takes a reference on it.
func (s *Subscriber) acquire(ctx context.Context, topic string) (*shared, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, closedError("subscribe to", topic)
		}
		if sh := s.shared[topic]; sh != nil {
			sh.refs++
			s.mu.Unlock()
			select {
			case <-sh.started:
			case <-ctx.Done():
				s.release(topic, sh)
				return nil, opError("subscribe to", topic, context.Cause(ctx))
			case <-s.closing:
				s.release(topic, sh)
				return nil, closedError("subscribe to", topic)
			}
			if sh.err == nil {
				return sh, nil
			}
			s.release(topic, sh)
			if ctx.Err() == nil && !s.isClosed() {
				continue // the call that started it gave up: start another
			}
			return nil, sh.err
		}
		sh := newShared()
		s.shared[topic] = sh
		s.mu.Unlock()
		c, err := s.startConsumer(ctx, topic, s.set.window)
		sh.c, sh.err = c, err
		if err != nil {
			s.mu.Lock()
			if s.shared[topic] == sh {
				delete(s.shared, topic)
			}
			s.mu.Unlock()
			close(sh.pumpDone)
			close(sh.started)
			s.release(topic, sh)
			return nil, err
		}
		go sh.pump()
		close(sh.started)
		return sh, nil
	}
}

// release drops a reference; the last one closes the consumer once the
// messages handed out have been settled (Close does it when closing).
func (s *Subscriber) release(topic string, sh *shared) {
	s.mu.Lock()
	sh.refs--
	if sh.refs > 0 {
		s.mu.Unlock()
		return
	}
	if s.shared[topic] == sh {
		delete(s.shared, topic)
	}
	if s.closed || sh.c == nil {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		settled := make(chan struct{})
		go func() { sh.inflight.Wait(); close(settled) }()
		select {
		case <-settled:
		case <-s.closing:
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), closeFlushTimeout)
		_ = sh.c.Close(ctx)
		cancel()
	}()
}

// dispatch hands the shared consumer's messages to one Subscribe call's
// channel, each as a message of its own, one at a time: it takes the next
// record once the previous one was acked or nacked (as watermill-kafka's
// partitions do), so a Subscribe call never holds a partition its reader
// is not working on.
func (s *Subscriber) dispatch(ctx context.Context, topic string, sh *shared, out chan<- *message.Message, unwatch func()) {
	defer s.wg.Done()
	defer close(out)
	defer s.release(topic, sh)
	defer unwatch()
	for {
		d, ok := sh.take(ctx, s.closing)
		if !ok {
			return
		}
		m := message.NewMessage(d.Msg.UUID, d.Msg.Payload)
		m.Metadata = maps.Clone(d.Msg.Metadata)
		m.SetContext(d.Msg.Context())
		if d.Attempt > 0 {
			adapters.SetDeliveryCount(m, d.Attempt)
		}
		sh.inflight.Add(1)
		select {
		case out <- m:
		case <-ctx.Done():
			sh.inflight.Done()
			sh.again(d, false) // for another Subscribe call
			return
		case <-s.closing:
			sh.inflight.Done()
			return // not acked: delivered again later
		}
		if !s.settle(ctx, sh, d, m) {
			return
		}
	}
}

// settle waits for m, handed out for d, to be acked or nacked and relays
// that: an ack settles the record, a nack hands it out again after the
// delay the handler asked for (adapters.NackDelay), or after 100 ms,
// holding its partition meanwhile. When ctx ends or Close begins first it
// returns false, and a goroutine goes on waiting for the settlement.
func (s *Subscriber) settle(ctx context.Context, sh *shared, d adapters.Delivery, m *message.Message) bool {
	select {
	case <-m.Acked():
		sh.acked(d)
		sh.inflight.Done()
		return true
	case <-m.Nacked():
		s.wg.Add(1)
		go s.redeliver(sh, d, m)
		return true
	case <-ctx.Done():
		s.wg.Add(1)
		go s.watch(sh, d, m)
		return false
	case <-s.closing:
		select {
		case <-m.Acked():
			sh.acked(d)
		default:
		}
		sh.inflight.Done()
		return false
	}
}

// redeliver hands d out again after the nack delay of m.
func (s *Subscriber) redeliver(sh *shared, d adapters.Delivery, m *message.Message) {
	defer s.wg.Done()
	defer sh.inflight.Done()
	delay := nackResend
	if nd, ok := adapters.NackDelay(m); ok && nd > 0 {
		delay = nd
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		sh.again(d, true)
	case <-s.closing:
	}
}

// watch relays the settlement of m, handed out for d, after its Subscribe
// call ended.
func (s *Subscriber) watch(sh *shared, d adapters.Delivery, m *message.Message) {
	select {
	case <-m.Acked():
		sh.acked(d)
		sh.inflight.Done()
		s.wg.Done()
	case <-m.Nacked():
		s.redeliver(sh, d, m)
	case <-s.closing:
		select {
		case <-m.Acked():
			sh.acked(d)
		default:
		}
		sh.inflight.Done()
		s.wg.Done()
	}
}

// SubscribeInitialize creates topic when missing (Watermill's
// SubscribeInitializer), waiting up to a minute for the broker.
func (s *Subscriber) SubscribeInitialize(topic string) error {
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	return s.SubscribeInitializeContext(ctx, topic)
}

// SubscribeInitializeContext is SubscribeInitialize bounded by ctx.
func (s *Subscriber) SubscribeInitializeContext(ctx context.Context, topic string) error {
	if s.isClosed() {
		return closedError("prepare", topic)
	}
	if err := s.admin.ensure(ctx, topic); err != nil {
		if errors.Is(err, herald.ErrClosed) || s.isClosed() {
			return closedError("prepare", topic)
		}
		return opError("prepare", topic, denied(s.set.username, err))
	}
	return nil
}

func (s *Subscriber) subscribeError(topic string, err error) error {
	if errors.Is(err, herald.ErrClosed) || s.isClosed() {
		return closedError("subscribe to", topic)
	}
	return opError("subscribe to", topic, denied(s.set.username, err))
}

func (s *Subscriber) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Subscriber) waitReady(ctx context.Context, h *health) error {
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case <-h.ready:
		return nil
	case err := <-h.refused:
		return opError("subscribe to", h.topic, denied(s.set.username, err))
	case <-ctx.Done():
		err := fmt.Errorf("waiting for the group to assign partitions: %w", context.Cause(ctx))
		if last := h.lastError(); last != nil {
			err = fmt.Errorf("%w (last error: %w)", err, last)
		}
		return opError("subscribe to", h.topic, err)
	case <-s.closing:
		return closedError("subscribe to", h.topic)
	case <-timer.C:
		err := fmt.Errorf("group %q assigned no partitions within %v", s.set.group, readyTimeout)
		if last := h.lastError(); last != nil {
			err = fmt.Errorf("%w (last error: %w)", err, last)
		}
		return opError("subscribe to", h.topic, err)
	}
}

// Close stops every subscription and stream, commits the offsets of
// settled messages and closes the connections. Messages handed out but
// not acked are delivered again later (to the group). A Subscribe still
// waiting for its consumer returns at once with an error wrapping
// herald.ErrClosed, and Close does not wait for it. Close is idempotent;
// every method called after it returns an error wrapping herald.ErrClosed.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	var ready []*consumer
	for c := range s.consumers {
		if !c.h.isReady() {
			c.h.stop()
			c.guard.abort() // still joining its group: cut it off
			continue
		}
		ready = append(ready, c)
	}
	s.mu.Unlock()
	s.wg.Wait()
	var wg sync.WaitGroup
	for _, c := range ready {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), closeFlushTimeout)
			defer cancel()
			_ = c.Close(ctx)
		}()
	}
	wg.Wait()
	s.guard.abort()
	s.admin.close()
	s.cl.Close()
	return nil
}

// As gives access to the objects underneath, in the style of Go CDK. It
// returns true and sets *target when target is one of:
//
//   - **kgo.Client (the subscriber's metadata and admin client; each
//     consumer has a client of its own)
//   - **kadm.Client (the admin client that creates topics)
//
// Closing them is the Subscriber's job.
func (s *Subscriber) As(target any) bool {
	switch t := target.(type) {
	case **kgo.Client:
		*t = s.cl
	case **kadm.Client:
		*t = s.admin.adm
	default:
		return false
	}
	return true
}
