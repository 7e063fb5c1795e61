package rabbitmq

import (
	"time"

	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	amqp "github.com/rabbitmq/amqp091-go"
)

const exchangeType = "fanout"

// watermillConfig is the watermill-amqp Config equivalent to s: the same
// connection, topology, persistence, confirms, prefetch and reconnect
// settings. The adapter's own code declares its topology with its
// Exchange, Queue, QueueBind and TopologyBuilder and (un)marshals with its
// Marshaler; the escape hatch hands it out, so that users can build
// watermill-amqp's Publisher and Subscriber from it.
func (s *settings) watermillConfig(privateID string) wamqp.Config {
	group := s.group
	queueArgs := amqp.Table(nil)
	if s.queueType == "quorum" {
		queueArgs = amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}
	}
	amqpConfig := s.amqpConfig
	return wamqp.Config{
		Connection: wamqp.ConnectionConfig{
			AmqpURI:    s.uri,
			AmqpConfig: &amqpConfig,
			Reconnect: &wamqp.ReconnectConfig{
				BackoffInitialInterval:     100 * time.Millisecond,
				BackoffRandomizationFactor: 0.5,
				BackoffMultiplier:          1.5,
				BackoffMaxInterval:         s.reconnectMax,
			},
		},
		Marshaler: marshaler{},
		Exchange: wamqp.ExchangeConfig{
			GenerateName: wamqp.GenerateExchangeNameTopicName,
			Type:         exchangeType,
			Durable:      true,
		},
		Queue: wamqp.QueueConfig{
			GenerateName: func(topic string) string { return queueName(topic, group, privateID) },
			Durable:      group != "",
			Exclusive:    group == "",
			Arguments:    queueArgs,
		},
		QueueBind: wamqp.QueueBindConfig{
			GenerateRoutingKey: func(string) string { return "" },
		},
		Publish: wamqp.PublishConfig{
			GenerateRoutingKey: func(string) string { return "" },
			ChannelPoolSize:    s.pool,
			ConfirmDelivery:    s.confirm,
		},
		Consume: wamqp.ConsumeConfig{
			Qos: wamqp.QosConfig{PrefetchCount: s.prefetch},
		},
		TopologyBuilder: &wamqp.DefaultTopologyBuilder{},
	}
}

// declareExchange declares topic's exchange on ch.
func declareExchange(ch *amqp.Channel, cfg wamqp.Config, topic string) error {
	return cfg.TopologyBuilder.ExchangeDeclare(ch, cfg.Exchange.GenerateName(topic), cfg)
}

// declareQueue declares topic's exchange and the subscriber's queue on ch
// and binds them, returning the queue name.
func declareQueue(ch *amqp.Channel, cfg wamqp.Config, topic string) (string, error) {
	q := cfg.Queue.GenerateName(topic)
	err := cfg.TopologyBuilder.BuildTopology(ch, wamqp.BuildTopologyParams{
		Topic:        topic,
		QueueName:    q,
		ExchangeName: cfg.Exchange.GenerateName(topic),
		RoutingKey:   cfg.QueueBind.GenerateRoutingKey(topic),
	}, cfg, nopLogger)
	return q, err
}
