package nats

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/internal/natsx"
)

// corePublisher is watermill-nats' publisher with JetStream disabled, plus
// a flush after each Publish so that nil means the server has the messages.
type corePublisher struct {
	nc      *nats.Conn
	pub     *wmnats.Publisher
	timeout time.Duration
	closed  atomic.Bool
	once    sync.Once
}

func newCorePublisher(nc *nats.Conn, s *settings) (*corePublisher, error) {
	pub, err := wmnats.NewPublisherWithNatsConn(nc, wmnats.PublisherPublishConfig{
		Marshaler:         natsx.Marshaler{},
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		JetStream:         wmnats.JetStreamConfig{Disabled: true},
	}, nil)
	if err != nil {
		return nil, err
	}
	return &corePublisher{nc: nc, pub: pub, timeout: s.js.PublishTimeout}, nil
}

// Publish sends msgs and waits until the server has read them (a flush).
// Core NATS delivers to the subscribers connected at that moment, at most
// once.
func (p *corePublisher) Publish(topic string, msgs ...*message.Message) error {
	if p.closed.Load() {
		return fmt.Errorf("herald/nats: publish to %q: %w", topic, herald.ErrClosed)
	}
	if err := natsx.CheckTopic(topic); err != nil {
		return err
	}
	if err := p.pub.Publish(topic, msgs...); err != nil {
		return fmt.Errorf("herald/nats: publish to %q: %w", topic, err)
	}
	if err := p.nc.FlushTimeout(p.timeout); err != nil {
		return fmt.Errorf("herald/nats: publish to %q: flush: %w", topic, err)
	}
	return nil
}

// Close flushes and closes the connection. It is idempotent.
func (p *corePublisher) Close() error {
	p.once.Do(func() {
		p.closed.Store(true)
		_ = p.pub.Close()
	})
	return nil
}

// As gives **nats.Conn, **wmnats.Publisher and *message.Publisher.
func (p *corePublisher) As(target any) bool {
	switch t := target.(type) {
	case **nats.Conn:
		*t = p.nc
	case **wmnats.Publisher:
		*t = p.pub
	case *message.Publisher:
		*t = p.pub
	default:
		return false
	}
	return true
}

// coreSubscriber consumes core NATS subjects. Its Subscribe calls join
// one queue group (the Herald group, or one private to this subscriber),
// so they compete for messages. (watermill-nats' pkg/nats subscriber closes
// its output channel while a message callback may still send on it, a race
// that can panic; this one sends and closes from one goroutine.)
type coreSubscriber struct {
	nc      *nats.Conn
	queue   string
	m       natsx.Marshaler
	mu      sync.Mutex
	closed  bool
	closing chan struct{}
	wg      sync.WaitGroup
	timeout time.Duration
}

func newCoreSubscriber(nc *nats.Conn, s *settings, group string) (*coreSubscriber, error) {
	queue := group
	if queue == "" {
		queue = "herald_" + nuid.Next()
	}
	return &coreSubscriber{nc: nc, queue: queue, closing: make(chan struct{}), timeout: s.js.CloseTimeout}, nil
}

// Subscribe joins the topic's queue group and returns once the server has
// registered the subscription.
func (s *coreSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := natsx.CheckTopic(topic); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("herald/nats: subscribe to %q: %w", topic, herald.ErrClosed)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	sub, err := s.nc.QueueSubscribeSync(topic, s.queue)
	if err == nil {
		err = s.nc.Flush()
	}
	if err != nil {
		if sub != nil {
			_ = sub.Unsubscribe()
		}
		s.wg.Done()
		return nil, fmt.Errorf("herald/nats: subscribe to %q: %w", topic, err)
	}
	out := make(chan *message.Message)
	go s.run(ctx, sub, out)
	return out, nil
}

// run hands the subscription's messages over one at a time, each after the
// previous one was acked or nacked (which changes nothing on core NATS).
func (s *coreSubscriber) run(ctx context.Context, sub *nats.Subscription, out chan<- *message.Message) {
	defer s.wg.Done()
	defer close(out)
	defer func() { _ = sub.Unsubscribe() }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		nm, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return // ctx done, or the subscription or connection closed
		}
		msg, _ := s.m.Unmarshal(nm)
		msg.SetContext(context.WithoutCancel(ctx))
		select {
		case out <- msg:
		case <-ctx.Done():
			return
		}
		select {
		case <-msg.Acked():
		case <-msg.Nacked():
		case <-ctx.Done():
			return
		}
	}
}

// Close ends every subscription and closes the connection. It is
// idempotent.
func (s *coreSubscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-time.After(s.timeout + time.Second):
		err = fmt.Errorf("herald/nats: close: subscriptions did not stop within %v", s.timeout+time.Second)
	}
	s.nc.Close()
	return err
}

// As gives **nats.Conn and *message.Subscriber.
func (s *coreSubscriber) As(target any) bool {
	switch t := target.(type) {
	case **nats.Conn:
		*t = s.nc
	case *message.Subscriber:
		*t = s
	default:
		return false
	}
	return true
}
