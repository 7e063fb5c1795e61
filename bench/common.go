package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/benchkit"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// The native cases run at Herald's defaults, so that each is divided by
// a Herald case with the same footing (issue 15): pubWindow messages in
// flight on the publish side (publisher.DefaultAsyncWindow) and the
// consume window Herald's subscriber takes for the broker
// (consumeWindow: the driver's Capabilities.DefaultWindow, else
// subWindow, subscriber.DefaultWindow). The native-defaults cases run
// the client at its own defaults instead, as the ceiling.
const (
	pubWindow = publisher.DefaultAsyncWindow
	subWindow = subscriber.DefaultWindow
)

// consumeWindow is the window subscriber.Open takes for target when
// none is given: the driver's Capabilities.DefaultWindow, else
// subscriber.DefaultWindow.
func consumeWindow(target string) int {
	cfg, err := herald.ParseURL(target)
	if err != nil {
		return subWindow
	}
	d, err := adapters.For(cfg)
	if err != nil {
		return subWindow
	}
	if w := d.Capabilities(cfg).DefaultWindow; w > 0 {
		return w
	}
	return subWindow
}

// syncPublishers is the number of goroutines of the native-sync16 and
// watermill-p16 cases.
const syncPublishers = 16

// freshName returns a new topic, queue or stream name.
func freshName(prefix string) string {
	return prefix + "-" + strings.ToLower(herald.NewID())
}

// cleanupCtx bounds deleting what a case created.
func cleanupCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// watermillCase runs Watermill's stock adapter: syncPublishers goroutines
// each calling Publish with one message, one Subscribe call acking each
// message after recording it. When initialize is set, Run calls the
// subscriber's SubscribeInitialize (Watermill's message.SubscribeInitializer)
// before subscribing, for adapters that need it (watermill-nats
// pkg/jetstream creates the stream there).
func watermillCase(broker, desc string, open func(ctx context.Context, topic string) (message.Publisher, message.Subscriber, error),
	initialize bool, cleanup func(ctx context.Context, topic string) error) benchkit.Case {
	return benchkit.Case{Broker: broker, Name: benchkit.NameWatermill, Desc: desc, Run: func(ctx context.Context, r *benchkit.Run) (err error) {
		topic := freshName("wm-bench")
		pub, sub, err := open(ctx, topic)
		if err != nil {
			return err
		}
		subCtx, stop := context.WithCancel(ctx)
		defer func() {
			stop()
			if cerr := pub.Close(); cerr != nil && err == nil {
				err = cerr
			}
			if cerr := sub.Close(); cerr != nil && err == nil {
				err = cerr
			}
			if cleanup != nil {
				cctx, cancel := cleanupCtx()
				defer cancel()
				if cerr := cleanup(cctx, topic); cerr != nil && err == nil {
					err = fmt.Errorf("cleanup: %w", cerr)
				}
			}
		}()
		if si, ok := sub.(message.SubscribeInitializer); ok && initialize {
			if err := si.SubscribeInitialize(topic); err != nil {
				return fmt.Errorf("subscribe initialize: %w", err)
			}
		}
		ch, err := sub.Subscribe(subCtx, topic)
		if err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		go func() {
			for m := range ch {
				r.Received(m.Payload)
				m.Ack()
			}
		}()
		if err := r.WarmUp(ctx, func(_ context.Context, p []byte) error {
			return pub.Publish(topic, herald.NewMessage(p))
		}); err != nil {
			return err
		}
		if err := r.Publish(ctx, syncPublishers, 1, func(_ context.Context, from, _ int) error {
			return pub.Publish(topic, herald.NewMessage(r.Payload(from)))
		}); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		return r.Wait(ctx)
	}}
}

// notes describe the clients and settings for the report.
func notes(n, nAMQP, nSync, nLarge int) []string {
	versions := map[string]string{}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			v := d.Version
			if d.Replace != nil && d.Replace.Version != "" {
				v = d.Replace.Version
			}
			versions[d.Path] = v
		}
	}
	v := func(path string) string {
		if s := versions[path]; s != "" {
			return s
		}
		return "(unknown version)"
	}
	return []string{
		fmt.Sprintf("n = %d messages per case run at 100 B and 1 KiB on Kafka and NATS, %d on RabbitMQ, at most %d for the cases that publish synchronously, %d above 8 KiB. "+
			"The native cases keep Herald's default windows: %d messages in flight when publishing (publisher.DefaultAsyncWindow), "+
			"when consuming the window Herald's subscriber takes for the broker (the driver's Capabilities.DefaultWindow, else subscriber.DefaultWindow, %d; each native case says its own); native-defaults runs the client at its own defaults (the ceiling). "+
			"Clients: franz-go %s, amqp091-go %s, nats.go %s; "+
			"Watermill %s with watermill-kafka %s (Sarama %s), watermill-amqp %s, watermill-nats %s.",
			n, nAMQP, nSync, nLarge, pubWindow, subWindow, v("github.com/twmb/franz-go"), v("github.com/rabbitmq/amqp091-go"), v("github.com/nats-io/nats.go"),
			v("github.com/ThreeDotsLabs/watermill"), v("github.com/ThreeDotsLabs/watermill-kafka/v3"), v("github.com/IBM/sarama"),
			v("github.com/ThreeDotsLabs/watermill-amqp/v3"), v("github.com/ThreeDotsLabs/watermill-nats/v2")),
		"Every case is at-least-once on both sides: publishes count once the broker acknowledged them (Kafka acks=all with the idempotent producer, " +
			"RabbitMQ publisher confirms on durable queues with persistent messages, JetStream PubAck on file storage), and each message is acked or " +
			"committed only after it was handled. The Herald cases use publisher.Open and subscriber.Open with their defaults, nothing else; " +
			"herald-async-c1 publishes from one goroutine with Publisher.PublishAsync and Flush.",
		"Reproduce: brokers from scripts/brokers.sh, then `make bench-compare` (the command above).",
	}
}
