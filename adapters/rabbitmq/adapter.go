package rabbitmq

import (
	"context"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

func init() {
	adapters.Register("amqp", Adapter{})
	adapters.Register("amqps", Adapter{})
}

// Adapter opens RabbitMQ publishers and subscribers. It is registered for
// the amqp and amqps schemes; users reach it through publisher.Open and
// subscriber.Open (or adapters.Open) rather than directly.
type Adapter struct{}

var (
	_ adapters.Adapter   = Adapter{}
	_ adapters.Validator = Adapter{}
)

var nopLogger watermill.LoggerAdapter = watermill.NopLogger{}

// Validate checks cfg without connecting: every option, the host, the
// vhost and the TLS files.
func (Adapter) Validate(cfg herald.Config) error {
	_, err := parse(cfg)
	return err
}

// Publisher connects and returns the publish side. The returned publisher
// also has an As(any) bool method (see the package documentation).
func (Adapter) Publisher(ctx context.Context, cfg herald.Config) (message.Publisher, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	return newPublisher(ctx, s)
}

// Subscriber connects and returns the consume side for cfg.Group (a
// private queue when it is empty). The returned subscriber also has an
// As(any) bool method (see the package documentation).
func (Adapter) Subscriber(ctx context.Context, cfg herald.Config) (message.Subscriber, error) {
	s, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	return newSubscriber(ctx, s)
}

// asConnection serves the escape-hatch targets of publisher and
// subscriber. It never dials: **amqp091.Connection is the current
// connection, false while reconnecting or after Close.
func asConnection(conn *connection, cfg wamqp.Config, target any) bool {
	switch t := target.(type) {
	case **amqp.Connection:
		c, err := conn.get()
		if err != nil {
			return false
		}
		*t = c
	case *wamqp.Config:
		*t = cfg
	default:
		return false
	}
	return true
}
