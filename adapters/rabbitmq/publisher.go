package rabbitmq

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
)

// publisher publishes on a few confirm-mode channels of one connection
// (which reconnects by itself). Unlike watermill-amqp's
// Publisher, which holds a channel and waits for each confirm before
// sending the next message, it sends a Publish call's messages and then
// waits for their confirms (at most window outstanding) without holding
// the channel, so concurrent Publish calls share channels and their
// confirms overlap. A call's messages go out on one channel, in order.
// See the package documentation for the figures.
type publisher struct {
	s        *settings
	cfg      wamqp.Config
	conn     *connection
	channels []*pubChannel
	next     atomic.Uint32

	mu      sync.Mutex // guards closed and wg.Add
	closed  bool
	closing chan struct{}
	wg      sync.WaitGroup
	once    sync.Once

	declared sync.Map // topic -> struct{}: exchange declared

	wpubOnce sync.Once
	wpub     *wamqp.Publisher
	wpubErr  error
}

// pubChannel is one AMQP channel, opened lazily and reopened after it or
// its connection closed.
type pubChannel struct {
	mu sync.Mutex
	ch *amqp.Channel
}

func newPublisher(s *settings) (*publisher, error) {
	cfg := s.watermillConfig("")
	conn, err := dial(s)
	if err != nil {
		return nil, err
	}
	p := &publisher{s: s, cfg: cfg, conn: conn, closing: make(chan struct{})}
	for range s.pool {
		p.channels = append(p.channels, &pubChannel{})
	}
	return p, nil
}

// Publish sends msgs to topic's exchange and, with confirms on (the
// default), returns nil only once the broker confirmed every one of them.
// Messages of one call keep their order.
func (p *publisher) Publish(topic string, msgs ...*message.Message) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errClosed
	}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()

	pc := p.channels[int(p.next.Add(1))%len(p.channels)]
	if err := p.send(pc, topic, msgs); err != nil {
		p.declared.Delete(topic) // declare again next time, in case it was deleted
		return err
	}
	return nil
}

// closeWait bounds how long Close lets in-flight publishes wait for their
// confirms.
const closeWait = 5 * time.Second

type pending struct {
	dc  *amqp.DeferredConfirmation
	msg *message.Message
}

// send publishes msgs on pc and waits for their confirms, keeping at most
// window of them outstanding.
func (p *publisher) send(pc *pubChannel, topic string, msgs []*message.Message) error {
	exchange := p.cfg.Exchange.GenerateName(topic)
	key := p.cfg.Publish.GenerateRoutingKey(topic)
	var waiting []pending
	if p.s.confirm {
		waiting = make([]pending, 0, min(len(msgs), p.s.window))
	}
	var ch *amqp.Channel // all of this call's messages go on one channel
	for _, msg := range msgs {
		if len(waiting) == p.s.window {
			if err := p.wait(topic, waiting[0]); err != nil {
				return err
			}
			waiting = waiting[1:]
		}
		pub, err := p.cfg.Marshaler.Marshal(msg)
		if err != nil {
			return fmt.Errorf("rabbitmq: marshal message %s: %w", msg.UUID, err)
		}
		var dc *amqp.DeferredConfirmation
		if ch, dc, err = p.publishOne(pc, ch, topic, exchange, key, msg, pub); err != nil {
			return err
		}
		if dc != nil {
			waiting = append(waiting, pending{dc, msg})
		}
	}
	for _, w := range waiting {
		if err := p.wait(topic, w); err != nil {
			return err
		}
	}
	return nil
}

// publishOne sends one message on pc, (re)opening the channel and
// declaring the exchange first when needed. want is the channel the
// call's previous messages went on (nil for the first): if pc had to be
// reopened since, the call fails rather than reorder its messages.
func (p *publisher) publishOne(pc *pubChannel, want *amqp.Channel, topic, exchange, key string, msg *message.Message, pub amqp.Publishing) (*amqp.Channel, *amqp.DeferredConfirmation, error) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if err := p.open(pc); err != nil {
		return nil, nil, err
	}
	if want != nil && pc.ch != want {
		return nil, nil, fmt.Errorf("rabbitmq: publish message %s to %q: the channel closed during the call", msg.UUID, topic)
	}
	if _, ok := p.declared.Load(topic); !ok {
		if err := declareExchange(pc.ch, p.cfg, topic); err != nil {
			return nil, nil, fmt.Errorf("rabbitmq: declare exchange %q: %w", topic, err)
		}
		p.declared.Store(topic, struct{}{})
	}
	dc, err := pc.ch.PublishWithDeferredConfirmWithContext(msg.Context(), exchange, key, false, false, pub)
	if err != nil {
		return nil, nil, fmt.Errorf("rabbitmq: publish message %s to %q: %w", msg.UUID, topic, err)
	}
	return pc.ch, dc, nil
}

// open (re)opens pc's channel when needed; pc.mu is held.
func (p *publisher) open(pc *pubChannel) error {
	if pc.ch != nil && !pc.ch.IsClosed() {
		return nil
	}
	pc.ch = nil
	conn, err := p.conn.get()
	if err != nil {
		return fmt.Errorf("rabbitmq: publish: %w", err)
	}
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("rabbitmq: open channel: %w", err)
	}
	if p.s.confirm {
		if err := ch.Confirm(false); err != nil {
			_ = ch.Close()
			return fmt.Errorf("rabbitmq: enable publisher confirms: %w", err)
		}
	}
	pc.ch = ch
	return nil
}

func (p *publisher) wait(topic string, w pending) error {
	select {
	case <-w.dc.Done():
	case <-w.msg.Context().Done():
		return fmt.Errorf("rabbitmq: waiting for the confirm of message %s: %w", w.msg.UUID, w.msg.Context().Err())
	case <-p.closing:
		return fmt.Errorf("rabbitmq: message %s unconfirmed: %w", w.msg.UUID, errClosed)
	}
	if !w.dc.Acked() {
		return fmt.Errorf("rabbitmq: broker did not confirm message %s on %q (nack, or the channel closed)", w.msg.UUID, topic)
	}
	return nil
}

// Close stops new publishes, waits up to closeWait for those in flight to
// get their confirms (then fails them with ErrClosed) and closes the
// connection. It is idempotent.
func (p *publisher) Close() error {
	var err error
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		// Let in-flight publishes get their confirms, for a while.
		done := make(chan struct{})
		go func() { p.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(closeWait):
		}
		close(p.closing)
		<-done
		for _, pc := range p.channels {
			pc.mu.Lock()
			if pc.ch != nil {
				_ = pc.ch.Close()
			}
			pc.mu.Unlock()
		}
		if p.wpub != nil {
			_ = p.wpub.Close()
		}
		err = p.conn.Close()
	})
	return err
}

// As implements the escape hatch; see the package documentation.
func (p *publisher) As(target any) bool {
	switch t := target.(type) {
	case **wamqp.Publisher:
		p.wpubOnce.Do(func() {
			p.wpub, p.wpubErr = wamqp.NewPublisher(p.cfg, nopLogger)
		})
		if p.wpubErr != nil {
			return false
		}
		*t = p.wpub
		return true
	}
	return asConnection(p.conn, p.cfg, target)
}
