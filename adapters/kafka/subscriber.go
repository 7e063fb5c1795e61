package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/IBM/sarama"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// readyTimeout bounds how long Subscribe waits for the group to assign
// partitions; a rebalance waits for the other members, up to Sarama's
// rebalance timeout of 60s.
const readyTimeout = 75 * time.Second

// subscribeAttempts is how many times Subscribe tries to start a consumer.
const subscribeAttempts = 4

// Subscriber is the Watermill subscriber the kafka adapter returns, built
// on watermill-kafka subscribers (one per topic).
//
// The Subscribe calls made on one Subscriber for the same topic share one
// Kafka consumer (one group member, or one private consumer) and compete
// for its messages. Subscribe returns once that consumer is ready: group
// partitions assigned and starting offsets known, so a message published
// after Subscribe returned is delivered. Acked messages have their offsets
// committed (every second, and on Close); nacked ones are delivered again.
type Subscriber struct {
	set   settings
	log   *slog.Logger
	guard *netGuard // the admin client's connections
	admin *admin

	mu      sync.Mutex
	streams map[string]*stream   // running streams by topic, shared by Subscribe calls
	live    map[*stream]struct{} // streams not stopped yet
	closed  bool                 // Close has begun
	closing chan struct{}
	wg      sync.WaitGroup // stream starts, dispatchers, ack watchers, stream shutdowns
}

var (
	_ message.Subscriber           = (*Subscriber)(nil)
	_ message.SubscribeInitializer = (*Subscriber)(nil)
)

func newSubscriber(ctx context.Context, s settings) (*Subscriber, error) {
	g := newNetGuard(10*time.Second, 0)
	client, err := connect(ctx, s, g, s.saramaConfig(g))
	if err != nil {
		g.abort()
		return nil, openError("subscriber", s, err)
	}
	sub := &Subscriber{
		set:     s,
		log:     adapters.Logger(ctx),
		guard:   g,
		streams: map[string]*stream{},
		live:    map[*stream]struct{}{},
		closing: make(chan struct{}),
	}
	if sub.admin, err = newAdmin(g.ctx, client, s); err != nil {
		_ = client.Close()
		g.abort()
		return nil, openError("subscriber", s, err)
	}
	return sub, nil
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
	st, err := s.acquire(ctx, topic)
	if err != nil {
		return nil, err
	}
	if err := s.waitReady(ctx, st); err != nil {
		s.release(st)
		return nil, err
	}
	out := make(chan *message.Message)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.release(st)
		return nil, closedError("subscribe to", topic)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	unwatch := st.watch(ctx)
	go s.dispatch(ctx, st, out, unwatch)
	return out, nil
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
		return opError("prepare", topic, err)
	}
	return nil
}

func (s *Subscriber) subscribeError(topic string, err error) error {
	if errors.Is(err, herald.ErrClosed) || s.isClosed() {
		return closedError("subscribe to", topic)
	}
	return opError("subscribe to", topic, err)
}

func (s *Subscriber) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// acquire returns the topic's running stream, starting it if needed, and
// takes a reference on it.
func (s *Subscriber) acquire(ctx context.Context, topic string) (*stream, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, closedError("subscribe to", topic)
		}
		if st := s.streams[topic]; st != nil {
			st.refs++
			s.mu.Unlock()
			select {
			case <-st.started:
			case <-ctx.Done():
				s.release(st)
				return nil, opError("subscribe to", topic, context.Cause(ctx))
			case <-s.closing:
				s.release(st)
				return nil, closedError("subscribe to", topic)
			}
			if st.err == nil {
				return st, nil
			}
			s.release(st)
			if st.abandoned && ctx.Err() == nil {
				continue // the Subscribe call that started it gave up: start another
			}
			return nil, st.err
		}
		st, err := s.newStream(ctx, topic)
		if err != nil {
			s.mu.Unlock()
			return nil, opError("subscribe to", topic, err)
		}
		s.streams[topic] = st
		s.live[st] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.start(ctx, st)
		if st.err != nil {
			s.release(st)
			return nil, st.err
		}
		return st, nil
	}
}

// newStream builds a stream for topic: its own watermill-kafka subscriber
// on its own guarded connections. Called with s.mu held; no I/O.
func (s *Subscriber) newStream(ctx context.Context, topic string) (*stream, error) {
	g := newNetGuard(10*time.Second, 0)
	st := &stream{
		topic:    topic,
		sub:      s,
		refs:     1,
		guard:    g,
		started:  make(chan struct{}),
		ready:    make(chan struct{}),
		watchers: map[int]context.Context{},
	}
	conf := s.set.saramaConfig(g)
	wm, err := wmkafka.NewSubscriber(wmkafka.SubscriberConfig{
		Brokers:               s.set.brokers,
		Unmarshaler:           Marshaler{},
		OverwriteSaramaConfig: conf,
		ConsumerGroup:         s.set.group,
		NackResendSleep:       100 * time.Millisecond,
		ReconnectRetrySleep:   time.Second,
		Tracer:                hooks{st: st},
	}, wmLogger{st: st})
	if err != nil {
		return nil, err
	}
	st.wm = wm
	// The stream outlives the Subscribe call that started it: it keeps
	// ctx's values, not its cancellation.
	st.ctx, st.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return st, nil
}

// start starts st's consumer, honouring ctx and Close: either aborts the
// stream's connections, which ends Sarama's waits at once.
func (s *Subscriber) start(ctx context.Context, st *stream) {
	defer s.wg.Done()
	stop := st.guard.abortOn(ctx)
	out, err := st.wm.Subscribe(st.ctx, st.topic)
	for attempt := 1; err != nil && attempt < subscribeAttempts && !st.guard.aborted(); attempt++ {
		// Partition leadership moves after topic creation or a broker
		// restart; such errors pass within a second or two.
		t := time.NewTimer(time.Duration(attempt) * 500 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
		case <-s.closing:
		}
		t.Stop()
		if ctx.Err() != nil || s.isClosed() {
			break
		}
		out, err = st.wm.Subscribe(st.ctx, st.topic)
	}
	if !stop() && err == nil {
		err = context.Cause(ctx) // aborted by ctx just after it started
	}
	switch {
	case err == nil:
	case s.isClosed():
		st.err = closedError("subscribe to", st.topic)
	case ctx.Err() != nil:
		st.err = opError("subscribe to", st.topic, ctxError(ctx, err))
		st.abandoned = true
	default:
		st.err = opError("subscribe to", st.topic, err)
	}
	st.out = out
	if st.err == nil && s.set.group == "" {
		st.markReady() // partition consumers have resolved their offsets
	}
	if st.err != nil {
		s.mu.Lock()
		if s.streams[st.topic] == st {
			delete(s.streams, st.topic) // later Subscribe calls start afresh
		}
		s.mu.Unlock()
	}
	close(st.started)
}

// release drops a reference; the last one stops the stream once the
// messages handed out have been settled. When the Subscriber is closing,
// Close stops the stream instead, after watermill-kafka committed what was
// acked: stopping it earlier would end the group session first.
func (s *Subscriber) release(st *stream) {
	s.mu.Lock()
	st.refs--
	if st.refs > 0 {
		s.mu.Unlock()
		return
	}
	if s.streams[st.topic] == st {
		delete(s.streams, st.topic)
	}
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		settled := make(chan struct{})
		go func() { st.inflight.Wait(); close(settled) }()
		select {
		case <-settled:
		case <-s.closing:
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		delete(s.live, st)
		s.mu.Unlock()
		s.stopStream(st)
	}()
}

// stopStream stops st's consumer. A ready group member leaves its group
// and commits what was acked (for up to closeFlushTimeout); a stream that
// is not ready yet (still joining its group) is cut off at once.
func (s *Subscriber) stopStream(st *stream) {
	st.stop()
	if !st.isReady() {
		st.guard.abort()
	}
	st.cancel()
	t := time.AfterFunc(closeFlushTimeout, st.guard.abort)
	_ = st.wm.Close()
	t.Stop()
	st.bg.Wait()
	st.guard.abort()
}

func (s *Subscriber) waitReady(ctx context.Context, st *stream) error {
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case <-st.ready:
		return nil
	case <-ctx.Done():
		err := fmt.Errorf("waiting for the group to assign partitions: %w", context.Cause(ctx))
		if last := st.lastError(); last != nil {
			err = fmt.Errorf("%w (last error: %w)", err, last)
		}
		return opError("subscribe to", st.topic, err)
	case <-s.closing:
		return closedError("subscribe to", st.topic)
	case <-timer.C:
		err := fmt.Errorf("group %q assigned no partitions within %v", s.set.group, readyTimeout)
		if last := st.lastError(); last != nil {
			err = fmt.Errorf("%w (last error: %w)", err, last)
		}
		return opError("subscribe to", st.topic, err)
	}
}

// dispatch hands the stream's messages to one Subscribe call's channel.
// Several dispatchers read one stream, so Subscribe calls compete. Each
// message is handed out as a copy whose Ack or Nack is relayed by watch.
func (s *Subscriber) dispatch(ctx context.Context, st *stream, out chan<- *message.Message, unwatch func()) {
	defer s.wg.Done()
	defer close(out)
	defer s.release(st)
	defer unwatch()
	for {
		var in *message.Message
		select {
		case msg, ok := <-st.out:
			if !ok {
				return
			}
			in = msg
		case <-ctx.Done():
			return
		case <-s.closing:
			return
		}
		p, _ := wmkafka.MessagePartitionFromCtx(in.Context())
		off, _ := wmkafka.MessagePartitionOffsetFromCtx(in.Context())
		m := in.Copy()
		m.SetContext(in.Context())
		st.inflight.Add(1)
		select {
		case out <- m:
			s.wg.Add(1)
			go s.watch(st, in, m, p, off)
		case <-ctx.Done():
			st.inflight.Done()
			in.Nack() // back to the stream, for another Subscribe call
			return
		case <-s.closing:
			st.inflight.Done()
			return // not acked: delivered again (to the group) later
		}
	}
}

// watch relays the settlement of the copy m handed out to in, the message
// watermill-kafka waits on. An ack first marks the offset in the group
// session, so Close (which commits marked offsets) cannot race with
// watermill-kafka noticing the ack; a nack honours the delay the handler
// asked for (adapters.NackDelay), holding the partition meanwhile.
func (s *Subscriber) watch(st *stream, in, m *message.Message, partition int32, offset int64) {
	defer s.wg.Done()
	defer st.inflight.Done()
	select {
	case <-m.Acked():
		st.mark(partition, offset)
		in.Ack()
	case <-m.Nacked():
		if d, ok := adapters.NackDelay(m); ok && d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-s.closing:
				return
			}
		}
		in.Nack()
	case <-s.closing:
		select {
		case <-m.Acked():
			st.mark(partition, offset)
			in.Ack()
		default:
		}
	}
}

// pinNewest starts the partitions the group has no committed offset for at
// their current end (initial_offset=newest), before consumption begins,
// so records produced after Subscribe returned are not skipped.
func (s *Subscriber) pinNewest(sess sarama.ConsumerGroupSession) {
	claims := sess.Claims()
	if len(claims) == 0 {
		return
	}
	resp, err := s.admin.ca.ListConsumerGroupOffsets(s.set.group, claims)
	if err != nil {
		return // best effort: Sarama then resolves "newest" itself
	}
	for topic, parts := range claims {
		for _, p := range parts {
			if b := resp.GetBlock(topic, p); b == nil || b.Offset >= 0 {
				continue
			}
			if off, err := s.admin.client.GetOffset(topic, p, sarama.OffsetNewest); err == nil {
				sess.MarkOffset(topic, p, off, "")
			}
		}
	}
}

// Close stops every subscription, commits the offsets of acked messages
// and closes the connections. Messages handed out but not acked are
// delivered again later (to the group). A Subscribe still waiting for its
// consumer returns at once with an error wrapping herald.ErrClosed, and
// Close does not wait for it. Close is idempotent; every method called
// after it returns an error wrapping herald.ErrClosed.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	for st := range s.live {
		if !st.isReady() {
			st.stop()
			st.guard.abort() // a stream still starting or joining: cut it off
		}
	}
	s.mu.Unlock()

	s.wg.Wait()
	s.mu.Lock()
	live := s.live
	s.live = map[*stream]struct{}{}
	clear(s.streams)
	s.mu.Unlock()
	for st := range live {
		s.stopStream(st)
	}
	s.guard.abort()
	err := s.admin.close()
	if errors.Is(err, sarama.ErrClosedClient) {
		err = nil
	}
	return err
}

// As gives access to the objects underneath, in the style of Go CDK. It
// returns true and sets *target when target is one of:
//
//   - *sarama.Client (the subscriber's metadata and admin client; each
//     consumer has its own client inside watermill-kafka)
//   - *sarama.ClusterAdmin (the admin used to create topics)
//
// Closing them is the Subscriber's job.
func (s *Subscriber) As(target any) bool {
	switch t := target.(type) {
	case *sarama.Client:
		*t = s.admin.client
	case *sarama.ClusterAdmin:
		*t = s.admin.ca
	default:
		return false
	}
	return true
}
