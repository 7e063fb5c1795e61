package kafka

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

func init() { adapters.Register("kafka", Adapter{}) }

// Adapter opens Kafka publishers and subscribers. It is registered for the
// "kafka" scheme; importing this package is enough to use it.
type Adapter struct{}

var (
	_ adapters.Adapter   = Adapter{}
	_ adapters.Validator = Adapter{}
)

// Validate checks cfg without connecting: every option, the broker
// addresses, credentials against sasl, and the TLS files (which it reads).
// Problems are *herald.ConfigError values, joined.
func (Adapter) Validate(cfg herald.Config) error {
	_, err := parse(cfg)
	return err
}

// Publisher connects to the brokers and returns a *Publisher. It returns
// when ctx ends, with an error wrapping ctx.Err().
func (Adapter) Publisher(ctx context.Context, cfg herald.Config) (message.Publisher, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	return newPublisher(ctx, s)
}

// Subscriber connects to the brokers and returns a *Subscriber for
// cfg.Group ("" for a private consumer). It returns when ctx ends, with an
// error wrapping ctx.Err(). What the subscriber logs goes to
// adapters.Logger(ctx).
func (Adapter) Subscriber(ctx context.Context, cfg herald.Config) (message.Subscriber, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	return newSubscriber(ctx, s)
}
