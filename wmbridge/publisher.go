package wmbridge

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// Publisher is a Watermill message.Publisher on a Herald backend's
// publish side (adapters.Topic). Publish returns once the broker
// acknowledged every message, as Herald's own Publish does.
type Publisher struct {
	topic   adapters.Topic
	scheme  string
	set     settings
	closed  atomic.Bool
	closeMu sync.Mutex
}

var _ message.Publisher = (*Publisher)(nil)

// NewPublisher opens the publish side of driver d for cfg and returns it
// as a Watermill publisher. cfg is validated by d first (no I/O); ctx
// bounds the opening only.
func NewPublisher(ctx context.Context, d adapters.Driver, cfg herald.Config, opts ...Option) (*Publisher, error) {
	set, err := newSettings(opts)
	if err != nil {
		return nil, err
	}
	b, err := prepare(d, cfg)
	if err != nil {
		return nil, err
	}
	t, err := d.OpenTopic(ctx, b.cfg, adapters.Env{Logger: set.logger})
	if err != nil {
		return nil, err
	}
	return &Publisher{topic: t, scheme: b.cfg.Scheme, set: set}, nil
}

// Publish sends msgs to topic in order and waits until the broker
// acknowledged each of them, within the publish timeout
// (WithPublishTimeout). The messages are all handed to the backend
// before the first answer is awaited, so a batch costs about one round
// trip. The error is that of the first message that failed, a
// *herald.Error: herald.ErrOutcomeUnknown means the broker may have
// stored it, herald.ErrUnreachable that it was never written. When one
// message is refused outright, the later ones are not sent.
//
// msgs must not be changed until Publish returns.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	if p.closed.Load() {
		return &herald.Error{Backend: p.scheme, Op: "publish to", Topic: topic, Kind: herald.KindClosed}
	}
	if len(msgs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.set.publishTimeout)
	defer cancel()
	errs := make([]error, len(msgs))
	var wg sync.WaitGroup
	var first error
	for i, m := range msgs {
		wg.Add(1)
		err := p.topic.Send(ctx, topic, m, adapters.SendOptions{}, func(err error) {
			errs[i] = err
			wg.Done()
		})
		if err != nil {
			wg.Done()
			first = messageError(m, err)
			break
		}
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return messageError(msgs[i], err)
		}
	}
	return first
}

func messageError(m *message.Message, err error) error {
	return fmt.Errorf("wmbridge: message %s: %w", m.UUID, err)
}

// Close stops publishing: it waits within the close timeout
// (WithCloseTimeout) for the answers of messages being published and
// closes the connection. It is idempotent.
func (p *Publisher) Close() error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.closed.Swap(true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.set.closeTimeout)
	defer cancel()
	return p.topic.Close(ctx)
}

// As sets target to an underlying client object of the backend (see
// adapters.Topic.As and the driver's documentation) and reports whether
// it did.
func (p *Publisher) As(target any) bool { return p.topic.As(target) }
