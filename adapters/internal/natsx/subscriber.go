package natsx

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/heraldkit/herald"
)

// Subscriber is a Watermill subscriber on JetStream pull consumers.
//
// With a group, every Subscribe call, in any process, pulls from the
// group's durable consumer for the topic, so they compete for messages;
// a new group starts with every message the stream retains (or, with
// DeliverNew, with the messages published after its creation). Without a
// group, the Subscribe calls of one Subscriber share a consumer private to
// it, which starts with the messages published after the first Subscribe
// returned and is deleted on Close (or after InactiveThreshold if the
// process dies).
//
// Acks are sent when the handler acks; a nack is a NAK (with NakDelay or
// BackOff); while a handler runs, the message is kept from redelivery with
// progress signals. When Subscribe's context ends or the subscriber closes,
// fetching stops, buffered messages are returned to the consumer at once
// (NAK) and in-flight messages are acked or nacked as their handlers finish
// (on Close, for at most CloseTimeout).
type Subscriber struct {
	nc    *nats.Conn
	js    jetstream.JetStream
	set   Settings
	group string
	id    string
	prov  *provisioner
	m     Marshaler
	log   *slog.Logger

	mu        sync.Mutex
	closed    bool
	closing   chan struct{}
	consumers map[string]*consumerRef
	wg        sync.WaitGroup

	cmu     sync.Mutex // serialises consumer creation
	once    sync.Once
	onClose func()
	as      func(any) bool
}

type consumerRef struct {
	stream, name string
	private      bool
}

var _ message.Subscriber = (*Subscriber)(nil)

// NewSubscriber returns a subscriber over nc, which it owns: Close closes
// nc. group "" makes a private consumer per topic.
func NewSubscriber(nc *nats.Conn, set Settings, group string, o Options) (*Subscriber, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("herald/nats: jetstream: %w", err)
	}
	s := &Subscriber{
		nc: nc, js: js, set: set, group: group, id: nuid.Next(),
		closing: make(chan struct{}), consumers: map[string]*consumerRef{},
		onClose: o.OnClose, as: o.As, log: o.Logger,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.prov = newProvisioner(js, &s.set)
	return s, nil
}

// Subscribe returns the messages of topic. It returns once the consumer
// exists, so a message published after it returns is delivered. The
// channel closes when ctx ends or the subscriber closes.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := CheckTopic(topic); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("herald/nats: subscribe to %q: %w", topic, herald.ErrClosed)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	it, err := s.iterator(ctx, topic, false)
	if err != nil {
		s.wg.Done()
		return nil, err
	}
	out := make(chan *message.Message)
	go s.run(ctx, topic, it, out)
	return out, nil
}

// SubscribeInitialize provisions the topic's stream and consumer without
// consuming (Watermill's SubscribeInitializer).
func (s *Subscriber) SubscribeInitialize(topic string) error {
	if err := CheckTopic(topic); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.consumer(ctx, topic, false)
	return err
}

// iterator creates (or, with refresh, re-creates) the topic's consumer and
// starts pulling from it.
func (s *Subscriber) iterator(ctx context.Context, topic string, refresh bool) (jetstream.MessagesContext, error) {
	c, err := s.consumer(ctx, topic, refresh)
	if err != nil {
		return nil, err
	}
	it, err := c.Messages(jetstream.PullMaxMessages(s.set.Prefetch))
	if err != nil {
		return nil, fmt.Errorf("herald/nats: consume %q: %w", topic, err)
	}
	return it, nil
}

// consumer returns the consumer for topic, creating it on first use (or
// again with refresh, e.g. after it was deleted).
func (s *Subscriber) consumer(ctx context.Context, topic string, refresh bool) (jetstream.Consumer, error) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if refresh {
		s.prov.forget(topic)
	}
	t, err := s.prov.ensure(ctx, topic)
	if err != nil {
		return nil, err
	}
	cfg := s.consumerConfig(topic, t)
	c, err := s.js.CreateOrUpdateConsumer(ctx, t.stream, cfg)
	if err != nil {
		what := "group " + fmt.Sprintf("%q", s.group)
		if s.group == "" {
			what = "private consumer"
		}
		return nil, fmt.Errorf("herald/nats: creating the %s for topic %q on stream %q: %w", what, topic, t.stream, err)
	}
	s.mu.Lock()
	s.consumers[topic] = &consumerRef{stream: t.stream, name: c.CachedInfo().Name, private: s.group == ""}
	s.mu.Unlock()
	return c, nil
}

func (s *Subscriber) consumerConfig(topic string, t target) jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.set.AckWait,
		MaxDeliver:    s.set.MaxDeliver,
		BackOff:       s.set.BackOff,
		FilterSubject: topic,
		MaxAckPending: s.set.MaxAckPending,
	}
	if s.group != "" {
		cfg.Durable = GroupConsumerName(s.group, topic, t.dedicated)
		cfg.Description = "Herald group " + s.group
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
		if s.set.DeliverNew {
			cfg.DeliverPolicy = jetstream.DeliverNewPolicy
		}
	} else {
		cfg.Name = PrivateConsumerName(s.id, topic, t.dedicated)
		cfg.Description = "Herald private consumer"
		cfg.DeliverPolicy = jetstream.DeliverNewPolicy
		cfg.InactiveThreshold = s.set.InactiveThreshold
	}
	return cfg
}

// Close stops every subscription, waits up to CloseTimeout for in-flight
// messages to be acked or nacked, deletes private consumers and closes the
// connection. It is idempotent.
func (s *Subscriber) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.closing)
		s.mu.Unlock()

		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(s.set.CloseTimeout + 2*time.Second):
			err = fmt.Errorf("herald/nats: close: subscriptions did not stop within %v", s.set.CloseTimeout+2*time.Second)
		}
		if s.nc.IsConnected() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			s.mu.Lock()
			refs := s.consumers
			s.mu.Unlock()
			for _, c := range refs {
				if c.private {
					_ = s.js.DeleteConsumer(ctx, c.stream, c.name)
				}
			}
			cancel()
			_ = s.nc.FlushTimeout(2 * time.Second)
		}
		s.nc.Close()
		if s.onClose != nil {
			s.onClose()
		}
	})
	return err
}

// As gives access to the underlying objects: **nats.Conn,
// *jetstream.JetStream, **Subscriber, *message.Subscriber, and what the
// adapter adds (e.g. **server.Server for embedded).
func (s *Subscriber) As(target any) bool {
	switch t := target.(type) {
	case **nats.Conn:
		*t = s.nc
	case *jetstream.JetStream:
		*t = s.js
	case **Subscriber:
		*t = s
	case *message.Subscriber:
		*t = s
	default:
		return s.as != nil && s.as(target)
	}
	return true
}
