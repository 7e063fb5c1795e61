package wmtest

import (
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"

	"github.com/heraldkit/herald/adapters"
)

// Features derives the Features of Watermill's universal suite
// (pubsub/tests) from what a Herald backend declares, so that the suite
// skips exactly what the backend does not promise:
//
//   - ConsumerGroups: Capabilities.Groups.
//   - GuaranteedOrder: Order is not OrderNone (a wmbridge.Subscriber hands
//     one message at a time, so TestNoAck holds wherever the stream keeps
//     order). With OrderKey the order is per key: the messages must be
//     keyed (the tests of this module key them by payload, as
//     Watermill's own Kafka test does). GuaranteedOrderWithSingleSubscriber:
//     OrderQueue, whose order holds for one consumer of the queue only.
//   - Persistent (messages kept for a group between Pub/Sub instances):
//     Capabilities.Durable, or Groups on a SingleProcess backend: mem://
//     keeps a group's messages while its bus lives, across publishers and
//     subscribers (the suite holds the bus, as an application would).
//   - ExactlyOnceDelivery, NewSubscriberReceivesOldMessages,
//     ContextPreserved: false (no Herald backend promises them).
//   - RequireSingleInstance: false: separate Publishers and Subscribers of
//     one target reach the same bus or broker, even on mem:// and
//     embedded://.
//   - RestartServiceCommand: none (the brokers are shared; restarts are
//     tested by the drivers' own suites).
func Features(c adapters.Capabilities) tests.Features {
	return tests.Features{
		ConsumerGroups:                      c.Groups,
		GuaranteedOrder:                     c.Order != adapters.OrderNone,
		GuaranteedOrderWithSingleSubscriber: c.Order == adapters.OrderQueue,
		Persistent:                          c.Durable || (c.Groups && c.SingleProcess),
	}
}
