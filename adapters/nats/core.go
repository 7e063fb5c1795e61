package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx"
)

// errorf formats an error in the adapters' style.
func errorf(op, topic string, err error) error {
	return fmt.Errorf("herald/%s: %s %q: %w", Scheme, op, topic, err)
}

// corePublisher publishes to core NATS with Herald's marshaler, then
// flushes, so that nil means the server has read the messages.
// watermill-nats' pkg/nats publisher (with JetStream disabled) on the same
// connection is kept for As.
type corePublisher struct {
	nc      *nats.Conn
	pub     *wmnats.Publisher
	m       natsx.Marshaler
	watch   *natsx.ConnWatch
	timeout time.Duration
	closed  atomic.Bool
	stop    context.Context
	cancel  context.CancelFunc
	once    sync.Once
}

var _ adapters.ContextPublisher = (*corePublisher)(nil)

func newCorePublisher(nc *nats.Conn, s *settings, log *slog.Logger) (*corePublisher, error) {
	pub, err := wmnats.NewPublisherWithNatsConn(nc, wmnats.PublisherPublishConfig{
		Marshaler:         natsx.Marshaler{},
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		JetStream:         wmnats.JetStreamConfig{Disabled: true},
	}, nil)
	if err != nil {
		return nil, err
	}
	p := &corePublisher{nc: nc, pub: pub, timeout: s.js.PublishTimeout}
	p.stop, p.cancel = context.WithCancel(context.Background())
	p.watch = natsx.NewConnWatch(nc, log, Scheme, "publisher")
	return p, nil
}

// Publish is PublishContext with the first message's context.
func (p *corePublisher) Publish(topic string, msgs ...*message.Message) error {
	ctx := context.Background()
	if len(msgs) > 0 {
		ctx = msgs[0].Context()
	}
	return p.PublishContext(ctx, topic, msgs...)
}

// PublishContext sends msgs and waits until the server has read them (a
// flush). While the connection is down it waits for it until ctx ends or
// publish_timeout passed, then returns an error wrapping
// herald.ErrUnreachable. Core NATS delivers to the subscribers connected
// at that moment, at most once: messages written just before a
// connection broke can be lost.
func (p *corePublisher) PublishContext(ctx context.Context, topic string, msgs ...*message.Message) error {
	const op = "publish to"
	if p.closed.Load() {
		return errorf(op, topic, herald.ErrClosed)
	}
	if err := natsx.CheckTopic(topic); err != nil {
		return errorf(op, topic, err)
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return errorf(op, topic, err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	stop := context.AfterFunc(p.stop, cancel)
	defer stop()
	out := make([]*nats.Msg, len(msgs))
	for i, m := range msgs {
		out[i], _ = p.m.Marshal(topic, m)
	}
	sent := 0
	var last error
	for {
		if !p.nc.IsConnected() {
			select {
			case <-p.watch.Up():
			case <-ctx.Done():
				return p.fail(ctx, topic, last)
			}
		}
		for sent < len(out) {
			if err := p.nc.PublishMsg(out[sent]); err != nil {
				last = err
				break
			}
			sent++
		}
		if sent == len(out) {
			err := p.nc.FlushWithContext(ctx)
			if err == nil {
				return nil
			}
			last = err
		}
		if ctx.Err() != nil {
			return p.fail(ctx, topic, last)
		}
		if !natsx.Retryable(last) && !errors.Is(last, nats.ErrConnectionClosed) {
			return errorf(op, topic, last)
		}
		if p.nc.IsClosed() {
			return errorf(op, topic, last)
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return p.fail(ctx, topic, last)
		case <-t.C:
		}
	}
}

func (p *corePublisher) fail(ctx context.Context, topic string, last error) error {
	var cause error
	switch {
	case p.closed.Load():
		cause = herald.ErrClosed
	case !p.nc.IsConnected() || last != nil || errors.Is(ctx.Err(), context.DeadlineExceeded):
		cause = fmt.Errorf("%w: %w", herald.ErrUnreachable, ctx.Err())
	default:
		cause = ctx.Err()
	}
	if last != nil {
		cause = fmt.Errorf("%w (last error: %w)", cause, last)
	}
	return errorf("publish to", topic, cause)
}

// Close flushes and closes the connection. It is idempotent.
func (p *corePublisher) Close() error {
	p.once.Do(func() {
		p.closed.Store(true)
		if p.nc.IsConnected() {
			_ = p.nc.FlushTimeout(2 * time.Second)
		}
		p.cancel()
		p.watch.Closing()
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
		*t = p
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
	log     *slog.Logger
	watch   *natsx.ConnWatch
	mu      sync.Mutex
	closed  bool
	stop    context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	timeout time.Duration
	group   string
	streams map[*coreStream]struct{}
}

func newCoreSubscriber(nc *nats.Conn, s *settings, group string, log *slog.Logger) (*coreSubscriber, error) {
	queue := group
	if queue == "" {
		queue = "herald_" + nuid.Next()
	}
	sub := &coreSubscriber{nc: nc, queue: queue, log: log, timeout: s.js.CloseTimeout, group: group}
	sub.stop, sub.cancel = context.WithCancel(context.Background())
	sub.watch = natsx.NewConnWatch(nc, log, Scheme, "subscriber")
	return sub, nil
}

// Subscribe joins the topic's queue group and returns once the server has
// registered the subscription; it gives up when ctx ends or the
// subscriber closes.
func (s *coreSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	const op = "subscribe to"
	if err := natsx.CheckTopic(topic); err != nil {
		return nil, errorf(op, topic, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, errorf(op, topic, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errorf(op, topic, herald.ErrClosed)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	sub, err := s.nc.QueueSubscribeSync(topic, s.queue)
	if err == nil {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		stop := context.AfterFunc(s.stop, cancel)
		err = s.nc.FlushWithContext(fctx)
		stop()
		cancel()
		if err != nil && s.stop.Err() != nil {
			err = fmt.Errorf("%w (interrupted: %w)", herald.ErrClosed, err)
		} else if err != nil && !s.nc.IsConnected() {
			err = fmt.Errorf("%w: %w", herald.ErrUnreachable, err)
		}
	}
	if err != nil {
		if sub != nil {
			_ = sub.Unsubscribe()
		}
		s.wg.Done()
		return nil, errorf(op, topic, err)
	}
	out := make(chan *message.Message)
	go s.run(ctx, topic, sub, out)
	return out, nil
}

// SubscribeInitialize does nothing on core NATS (there is nothing to
// create ahead of Subscribe), except fail after Close.
func (s *coreSubscriber) SubscribeInitialize(topic string) error {
	return s.SubscribeInitializeContext(context.Background(), topic)
}

// SubscribeInitializeContext is SubscribeInitialize.
func (s *coreSubscriber) SubscribeInitializeContext(_ context.Context, topic string) error {
	if err := natsx.CheckTopic(topic); err != nil {
		return errorf("prepare", topic, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errorf("prepare", topic, herald.ErrClosed)
	}
	return nil
}

// run hands the subscription's messages over one at a time, each after the
// previous one was acked or nacked (which changes nothing on core NATS).
// While the connection is down the subscription is reported lost (what is
// published meanwhile does not reach it); nats.go restores it on
// reconnect, which is reported too.
func (s *coreSubscriber) run(ctx context.Context, topic string, sub *nats.Subscription, out chan<- *message.Message) {
	defer s.wg.Done()
	defer close(out)
	defer func() { _ = sub.Unsubscribe() }()
	h := natsx.NewHealth(ctx, s.log, Scheme, topic, s.group)
	unlisten := s.watch.Listen(func(err error) {
		if err != nil {
			h.Lost(err)
		} else {
			h.OK()
		}
	})
	defer unlisten()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.stop, cancel)
	defer stop()
	for {
		nm, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			if ctx.Err() == nil {
				// The subscription or the connection closed for good.
				h.Lost(err)
			}
			return
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
	s.cancel()
	streams := make([]*coreStream, 0, len(s.streams))
	for st := range s.streams {
		streams = append(streams, st)
	}
	s.mu.Unlock()
	for _, st := range streams {
		_ = st.Close(context.Background())
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	t := time.NewTimer(s.timeout + time.Second)
	select {
	case <-done:
	case <-t.C:
		err = fmt.Errorf("herald/%s: close subscriber: subscriptions did not stop within %v", Scheme, s.timeout+time.Second)
	}
	t.Stop()
	s.watch.Closing()
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
