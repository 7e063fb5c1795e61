package kafka

import (
	"errors"
	"fmt"
	"sync"

	"github.com/IBM/sarama"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
)

// Publisher is the Watermill publisher the kafka adapter returns: a
// watermill-kafka publisher (a Sarama SyncProducer underneath) plus topic
// auto-creation. Publish returns nil only once the broker acknowledged
// every message (as set by acks). It is safe for concurrent use.
type Publisher struct {
	wm       *wmkafka.Publisher
	producer sarama.SyncProducer
	admin    *admin

	mu        sync.RWMutex // Publish holds it shared, Close exclusively
	closed    bool
	closing   chan struct{} // closed when Close begins: retries stop
	closeOnce sync.Once
}

var _ message.Publisher = (*Publisher)(nil)

func newPublisher(s settings) (*Publisher, error) {
	conf := s.saramaConfig()
	p := &Publisher{closing: make(chan struct{})}
	wm, err := wmkafka.NewPublisher(wmkafka.PublisherConfig{
		Brokers:               s.brokers,
		Marshaler:             Marshaler{},
		OverwriteSaramaConfig: conf,
		Tracer:                hooks{producer: &p.producer},
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("herald/kafka: open publisher on %v: %w", s.brokers, err)
	}
	p.wm = wm
	if p.admin, err = newAdmin(s.brokers, s.saramaConfig(), s); err != nil {
		_ = wm.Close()
		return nil, err
	}
	return p, nil
}

// Publish sends msgs to topic, creating the topic on first use, and
// returns once the broker acknowledged them. Several messages are sent as
// one batch. After Close it returns herald.ErrClosed.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return herald.ErrClosed
	}
	if len(msgs) == 0 {
		return nil
	}
	ctx := msgs[0].Context()
	if err := p.admin.ensure(ctx, topic); err != nil {
		return err
	}
	if len(msgs) == 1 {
		err := retry(ctx, p.closing, func() error { return p.wm.Publish(topic, msgs...) })
		if err != nil {
			return fmt.Errorf("herald/kafka: publish to %q: %w", topic, err)
		}
		return nil
	}
	pending := make([]*sarama.ProducerMessage, len(msgs))
	for i, m := range msgs {
		pending[i], _ = Marshaler{}.Marshal(topic, m)
	}
	err := retry(ctx, p.closing, func() error {
		err := p.producer.SendMessages(pending)
		var perrs sarama.ProducerErrors
		if errors.As(err, &perrs) {
			pending = pending[:0] // resend only what failed
			for _, pe := range perrs {
				pending = append(pending, pe.Msg)
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("herald/kafka: publish %d messages to %q: %w", len(msgs), topic, err)
	}
	return nil
}

// Close flushes and closes the producer and the admin connection. A
// Publish retrying through a broker outage stops retrying and returns its
// error. Close is idempotent.
func (p *Publisher) Close() error {
	p.closeOnce.Do(func() { close(p.closing) })
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	return errors.Join(p.wm.Close(), p.admin.close())
}

// As gives access to the objects underneath, in the style of Go CDK. It
// returns true and sets *target when target is one of:
//
//   - **kafka.Publisher (watermill-kafka's publisher)
//   - *sarama.SyncProducer (the producer Publish uses)
//   - *sarama.Client (the publisher's metadata and admin client)
//   - *sarama.ClusterAdmin (the admin used to create topics)
//
// Closing them is the Publisher's job.
func (p *Publisher) As(target any) bool {
	switch t := target.(type) {
	case **wmkafka.Publisher:
		*t = p.wm
	case *sarama.SyncProducer:
		*t = p.producer
	case *sarama.Client:
		*t = p.admin.client
	case *sarama.ClusterAdmin:
		*t = p.admin.ca
	default:
		return false
	}
	return true
}
