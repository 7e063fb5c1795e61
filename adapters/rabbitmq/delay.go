package rabbitmq

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald/adapters"
)

// Delayed delivery on RabbitMQ 3.10+ (see "Delayed delivery" in the
// package documentation): a binary cascade of delay tiers shared by every
// topic of the vhost. Tier n is a quorum queue whose messages expire after
// 2^n delay units (x-message-ttl, the same for all its messages, so the
// head always expires first) and are dead-lettered, at least once, to the
// exchange of tier n-1; the exchange of tier n routes on bit n of the
// message's routing key, "<bit L-1>.….<bit 0>.<topic>": 1 to tier n's
// queue, 0 on to the exchange of tier n-1. Below tier 0, the delivery
// exchange routes "*.….*.<topic>" to the topic's exchange. A message
// delayed by k units thus waits in the tiers of k's set bits, highest
// first, and reaches its topic after k units.
const (
	// delayUnit is the tiers' unit: a delay is rounded up to it.
	delayUnit = time.Second
	// delayLevels is the number of tiers: delays up to 2^24-1 units.
	delayLevels = 24
	// delayMax is the longest delay.
	delayMax = (1<<delayLevels - 1) * delayUnit
	// delayPrecision bounds how late a delayed message is: the rounding
	// up to delayUnit, then one dead-lettering per set bit (the quorum
	// queue's expiry and its at-least-once re-publish) and the queue's
	// expiry timer.
	delayPrecision = delayUnit + 2*time.Second
	// delayPrefix begins the tiers' names (exchanges and queues), which
	// topics should not use.
	delayPrefix = "herald.delay."
	// delayDeliver is the exchange below tier 0.
	delayDeliver = delayPrefix + "deliver"
)

// delayCapabilities is what the tiers do: Max delayMax, Precision
// delayPrecision, durable (quorum queues, at-least-once dead-lettering,
// publisher confirms), not ordered for equal times (two messages for one
// time sent a moment apart may be rounded to different unit counts, so
// to different tiers). Without publisher confirms (confirm=false) there
// is no delayed delivery: Publish could not report it stored.
func delayCapabilities(s *settings) adapters.DelayCapabilities {
	if !s.confirm {
		return adapters.DelayCapabilities{}
	}
	return adapters.DelayCapabilities{Max: delayMax, Precision: delayPrecision, Durable: true}
}

// tierExchange is the exchange of tier n; tierQueue its queue.
func tierExchange(n int) string { return delayPrefix + "tier." + strconv.Itoa(n) }
func tierQueue(n int) string    { return delayPrefix + "tier." + strconv.Itoa(n) + ".queue" }

// delayUnits is d in units, rounded up (at least 1).
func delayUnits(d time.Duration) uint64 {
	k := (d + delayUnit - 1) / delayUnit
	return uint64(max(k, 1))
}

// delayRoutingKey is the routing key of a message to topic delayed by k
// units: k's bits, highest first, then the topic.
func delayRoutingKey(k uint64, topic string) string {
	var b strings.Builder
	b.Grow(2*delayLevels + len(topic))
	for n := delayLevels - 1; n >= 0; n-- {
		if k>>n&1 == 1 {
			b.WriteString("1.")
		} else {
			b.WriteString("0.")
		}
	}
	b.WriteString(topic)
	return b.String()
}

// checkDelayTopic refuses topics the tiers cannot route: a token "*" or
// "#" would be a wildcard in the delivery binding, and the routing key
// (the bits and the topic) must fit in 255 bytes.
func checkDelayTopic(topic string) error {
	for _, tok := range strings.Split(topic, ".") {
		if tok == "*" || tok == "#" {
			return fmt.Errorf("a topic with a %q token cannot be delayed (it is a wildcard in a routing pattern)", tok)
		}
	}
	if n := 2*delayLevels + len(topic); n > maxNameLen {
		return fmt.Errorf("a topic of %d bytes cannot be delayed: its delay routing key would be %d bytes, RabbitMQ takes %d", len(topic), n, maxNameLen)
	}
	return nil
}

// tierPattern is the binding key of tier n's exchange for bit n = bit.
func tierPattern(n int, bit string) string {
	return strings.Repeat("*.", delayLevels-1-n) + bit + ".#"
}

// declareTiers declares the tiers on ch (idempotent: same arguments every
// time). Tier n's queue dead-letters to tier n-1's exchange, tier 0's to
// the delivery exchange, keeping the routing key.
func declareTiers(ch *amqp.Channel) error {
	if err := ch.ExchangeDeclare(delayDeliver, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %q: %w", delayDeliver, err)
	}
	for n := 0; n < delayLevels; n++ {
		next := delayDeliver
		if n > 0 {
			next = tierExchange(n - 1)
		}
		ex, q := tierExchange(n), tierQueue(n)
		if err := ch.ExchangeDeclare(ex, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare exchange %q: %w", ex, err)
		}
		args := amqp.Table{
			amqp.QueueTypeArg:        amqp.QueueTypeQuorum,
			"x-message-ttl":          int64((delayUnit << n) / time.Millisecond),
			"x-dead-letter-exchange": next,
			"x-dead-letter-strategy": "at-least-once",
			"x-overflow":             "reject-publish",
		}
		if _, err := ch.QueueDeclare(q, true, false, false, false, args); err != nil {
			return fmt.Errorf("declare queue %q: %w", q, err)
		}
		if err := ch.QueueBind(q, tierPattern(n, "1"), ex, false, nil); err != nil {
			return fmt.Errorf("bind queue %q to exchange %q: %w", q, ex, err)
		}
		if err := ch.ExchangeBind(next, tierPattern(n, "0"), ex, false, nil); err != nil {
			return fmt.Errorf("bind exchange %q to exchange %q: %w", next, ex, err)
		}
	}
	return nil
}

// bindDelivery routes topic's delayed messages from the delivery exchange
// to topic's exchange (declared already).
func bindDelivery(ch *amqp.Channel, topic string) error {
	key := strings.Repeat("*.", delayLevels) + topic
	if err := ch.ExchangeBind(topic, key, delayDeliver, false, nil); err != nil {
		return fmt.Errorf("bind exchange %q to exchange %q: %w", topic, delayDeliver, err)
	}
	return nil
}

// restoreDelayBinding binds the delivery exchange to topic's exchange
// again where the vhost has the delay tiers, on a channel of its own and
// at best effort (no tiers, or a refused permission, closes only that
// channel). A subscriber calls it after declaring topic's exchange: an
// exchange deleted and declared again has lost that binding with its
// queue bindings, and a publisher that bound it before still takes it
// as made, so its delayed messages would be dropped at the delivery
// exchange while its plain ones reach the groups.
func restoreDelayBinding(conn *amqp.Connection, topic string) {
	ch, err := conn.Channel()
	if err != nil {
		return
	}
	defer func() { _ = ch.Close() }()
	if err := ch.ExchangeDeclarePassive(delayDeliver, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return
	}
	_ = bindDelivery(ch, topic)
}

// deadLetterHeader reports whether k is a header RabbitMQ adds when it
// dead-letters a message (x-death, x-first-death-*, x-last-death-*):
// the tiers' doing, not the publisher's metadata.
func deadLetterHeader(k string) bool {
	return k == "x-death" || strings.HasPrefix(k, "x-first-death-") || strings.HasPrefix(k, "x-last-death-")
}

var errNoConfirms = errors.New("delayed delivery needs publisher confirms (confirm=true, the default): without them a delayed message cannot be reported stored")
