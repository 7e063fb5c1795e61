package rabbitmq

import (
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// exchangeType is the type of a topic's exchange: every queue bound to it
// gets every message; routing keys are not used.
const exchangeType = "fanout"

// declareExchange declares topic's durable fanout exchange on ch.
func declareExchange(ch *amqp.Channel, topic string) error {
	return ch.ExchangeDeclare(topic, exchangeType, true, false, false, false, nil)
}

// queueSpec is how a subscriber's queue is declared.
type queueSpec struct {
	name      string
	durable   bool // a group's queue: it outlives its subscribers
	exclusive bool // a private queue: deleted with its connection
	quorum    bool
}

// queueFor is the queue a subscriber of s with privateID consumes topic
// from (see "Topology" in the package documentation).
func queueFor(s *settings, topic, privateID string) queueSpec {
	return queueSpec{
		name:      queueName(topic, s.group, privateID),
		durable:   s.group != "",
		exclusive: s.group == "",
		quorum:    s.queueType == "quorum",
	}
}

// declareQueue declares topic's exchange and q on ch and binds them.
func declareQueue(ch *amqp.Channel, topic string, q queueSpec) error {
	if err := declareExchange(ch, topic); err != nil {
		return fmt.Errorf("declare exchange %q: %w", topic, err)
	}
	var args amqp.Table
	if q.quorum {
		args = amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}
	}
	if _, err := ch.QueueDeclare(q.name, q.durable, false, q.exclusive, false, args); err != nil {
		return fmt.Errorf("declare queue %q: %w", q.name, err)
	}
	if err := ch.QueueBind(q.name, "", topic, false, nil); err != nil {
		return fmt.Errorf("bind queue %q to exchange %q: %w", q.name, topic, err)
	}
	return nil
}
