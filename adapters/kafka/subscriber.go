package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
// on a watermill-kafka subscriber.
//
// The Subscribe calls made on one Subscriber for the same topic share one
// Kafka consumer (one group member, or one private consumer) and compete
// for its messages. Subscribe returns once that consumer is ready: group
// partitions assigned and starting offsets known, so a message published
// after Subscribe returned is delivered. Acked messages have their offsets
// committed (every second, and on Close); nacked ones are delivered again.
type Subscriber struct {
	set   settings
	wm    *wmkafka.Subscriber
	admin *admin
	log   *errorLog

	mu       sync.Mutex
	streams  map[string]*stream   // running streams by topic, shared by Subscribe calls
	live     map[*stream]struct{} // streams not stopped yet
	closed   bool                 // Close has begun
	finished bool                 // Close has stopped the live streams
	closing  chan struct{}
	wg       sync.WaitGroup // dispatchers, ack watchers, stream shutdowns
}

var _ message.Subscriber = (*Subscriber)(nil)

func newSubscriber(s settings) (*Subscriber, error) {
	conf := s.saramaConfig()
	if s.group == "" {
		// Private consumers read partitions directly and nothing drains
		// their error channels: Sarama logs and retries instead.
		conf.Consumer.Return.Errors = false
	}
	sub := &Subscriber{
		set:     s,
		log:     &errorLog{},
		streams: map[string]*stream{},
		live:    map[*stream]struct{}{},
		closing: make(chan struct{}),
	}
	wm, err := wmkafka.NewSubscriber(wmkafka.SubscriberConfig{
		Brokers:               s.brokers,
		Unmarshaler:           Marshaler{},
		OverwriteSaramaConfig: conf,
		ConsumerGroup:         s.group,
		NackResendSleep:       100 * time.Millisecond,
		ReconnectRetrySleep:   time.Second,
		Tracer:                hooks{sub: sub},
	}, sub.log)
	if err != nil {
		return nil, fmt.Errorf("herald/kafka: open subscriber on %v: %w", s.brokers, err)
	}
	sub.wm = wm
	if sub.admin, err = newAdmin(s.brokers, s.saramaConfig(), s); err != nil {
		_ = wm.Close()
		return nil, err
	}
	return sub, nil
}

// Subscribe returns the messages of topic, creating the topic when
// missing. It returns once the consumer is ready (see Subscriber); the
// channel is closed when ctx is cancelled or the Subscriber is closed.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if s.isClosed() {
		return nil, herald.ErrClosed
	}
	if err := s.admin.ensure(ctx, topic); err != nil {
		return nil, err
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
		return nil, herald.ErrClosed
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go s.dispatch(ctx, st, out)
	return out, nil
}

func (s *Subscriber) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// acquire returns the topic's running stream, starting it if needed, and
// takes a reference on it.
func (s *Subscriber) acquire(ctx context.Context, topic string) (*stream, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, herald.ErrClosed
	}
	if st := s.streams[topic]; st != nil {
		st.refs++
		s.mu.Unlock()
		<-st.started
		if st.err != nil {
			s.release(st)
			return nil, st.err
		}
		return st, nil
	}
	st := &stream{topic: topic, refs: 1, started: make(chan struct{}), ready: make(chan struct{})}
	s.live[st] = struct{}{}
	// The stream outlives the Subscribe call that started it: it keeps
	// ctx's values, not its cancellation.
	sctx, cancel := context.WithCancel(context.WithValue(context.WithoutCancel(ctx), streamKey{}, st))
	st.cancel = cancel
	s.streams[topic] = st
	s.mu.Unlock()

	out, err := s.wm.Subscribe(sctx, topic)
	for attempt := 1; err != nil && attempt < subscribeAttempts && ctx.Err() == nil && !s.isClosed(); attempt++ {
		// Partition leadership moves after topic creation or a broker
		// restart; such errors pass within a second or two.
		time.Sleep(time.Duration(attempt) * 500 * time.Millisecond)
		out, err = s.wm.Subscribe(sctx, topic)
	}
	if err != nil {
		st.err = fmt.Errorf("herald/kafka: subscribe to %q: %w", topic, err)
	}
	st.out = out
	if err == nil && s.set.group == "" {
		st.markReady() // partition consumers have resolved their offsets
	}
	close(st.started)
	if st.err != nil {
		s.release(st)
		return nil, st.err
	}
	return st, nil
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
	switch {
	case s.finished:
		delete(s.live, st)
		s.mu.Unlock()
		st.cancel()
		return
	case s.closed:
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
		delete(s.live, st)
		s.mu.Unlock()
		st.cancel()
	}()
}

func (s *Subscriber) waitReady(ctx context.Context, st *stream) error {
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case <-st.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("herald/kafka: subscribe to %q: %w", st.topic, context.Cause(ctx))
	case <-s.closing:
		return herald.ErrClosed
	case <-timer.C:
		err := fmt.Errorf("herald/kafka: subscribe to %q: group %q assigned no partitions within %v", st.topic, s.set.group, readyTimeout)
		if last := s.log.lastError(); last != nil {
			err = fmt.Errorf("%w (last error: %w)", err, last)
		}
		return err
	}
}

// dispatch hands the stream's messages to one Subscribe call's channel.
// Several dispatchers read one stream, so Subscribe calls compete. Each
// message is handed out as a copy whose Ack or Nack is relayed by watch.
func (s *Subscriber) dispatch(ctx context.Context, st *stream, out chan<- *message.Message) {
	defer s.wg.Done()
	defer close(out)
	defer s.release(st)
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
// delivered again later (to the group). Close is idempotent.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()

	s.wg.Wait()
	err := s.wm.Close()
	s.mu.Lock()
	s.finished = true
	for st := range s.live {
		st.cancel()
	}
	clear(s.live)
	s.mu.Unlock()
	return errors.Join(err, s.admin.close())
}

// As gives access to the objects underneath, in the style of Go CDK. It
// returns true and sets *target when target is one of:
//
//   - **kafka.Subscriber (watermill-kafka's subscriber)
//   - *sarama.Client (the subscriber's metadata and admin client; each
//     consumer has its own client inside watermill-kafka)
//   - *sarama.ClusterAdmin (the admin used to create topics)
//
// Closing them is the Subscriber's job.
func (s *Subscriber) As(target any) bool {
	switch t := target.(type) {
	case **wmkafka.Subscriber:
		*t = s.wm
	case *sarama.Client:
		*t = s.admin.client
	case *sarama.ClusterAdmin:
		*t = s.admin.ca
	default:
		return false
	}
	return true
}

type streamKey struct{}

// stream is one topic's consumer inside a Subscriber, shared by the
// Subscribe calls for that topic.
type stream struct {
	topic   string
	refs    int // guarded by Subscriber.mu
	cancel  context.CancelFunc
	started chan struct{} // closed once out and err are set
	out     <-chan *message.Message
	err     error

	ready     chan struct{}
	readyOnce sync.Once
	sess      atomic.Pointer[sessionRef]
	inflight  sync.WaitGroup // messages handed out, not yet settled
}

type sessionRef struct{ sarama.ConsumerGroupSession }

func (st *stream) markReady() { st.readyOnce.Do(func() { close(st.ready) }) }

func (st *stream) setSession(sess sarama.ConsumerGroupSession) {
	st.sess.Store(&sessionRef{sess})
}

// mark records offset as processed in the current group session, unless
// that session has ended (a rebalance): the record is then delivered again.
func (st *stream) mark(partition int32, offset int64) {
	ref := st.sess.Load()
	if ref == nil || ref.Context().Err() != nil {
		return
	}
	ref.MarkOffset(st.topic, partition, offset+1, "")
}
