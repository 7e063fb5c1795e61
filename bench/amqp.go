package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald/internal/benchkit"
)

// amqpCases returns the native and Watermill cases, and the cleanup of
// Herald's exchanges and queues.
func amqpCases(target string) ([]benchkit.Case, func(ctx context.Context, topic, group string) error, error) {
	a := amqpBench{url: target}
	cases := []benchkit.Case{
		{Broker: "amqp", Name: benchkit.NameNative, Run: a.native(false),
			Desc: fmt.Sprintf("amqp091-go: durable queue, persistent messages, deferred confirms with up to %d unconfirmed (Herald's async window), one channel; consumer prefetch %d (Herald's consume window), Ack each after handling", pubWindow, subWindow)},
		{Broker: "amqp", Name: benchkit.NameNativeSync16, Run: a.native(true),
			Desc: fmt.Sprintf("amqp091-go: %d goroutines each publishing and waiting for its confirm, on one shared confirm-mode channel; the same consumer", syncPublishers)},
		watermillCase("amqp", "watermill-amqp: NewDurableQueueConfig with Publish.ConfirmDelivery = true (confirms; otherwise as shipped: a channel per publish, prefetch 1)",
			a.watermill, false, func(ctx context.Context, topic string) error { return a.delete(topic, "") }),
	}
	return cases, func(_ context.Context, topic, group string) error {
		// Herald's topology: a fanout exchange named after the topic, a
		// queue <topic>.<group> (adapters/rabbitmq/topology.go).
		return a.delete(topic+"."+group, topic)
	}, nil
}

type amqpBench struct{ url string }

// delete deletes a queue and, when given, an exchange; each on its own
// channel, since a failure closes the channel.
func (a amqpBench) delete(queue, exchange string) error {
	conn, err := amqp.Dial(a.url)
	if err != nil {
		return err
	}
	defer conn.Close()
	do := func(f func(ch *amqp.Channel) error) error {
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		defer ch.Close()
		return f(ch)
	}
	var errs []error
	if queue != "" {
		if err := do(func(ch *amqp.Channel) error { _, err := ch.QueueDelete(queue, false, false, false); return err }); err != nil {
			errs = append(errs, fmt.Errorf("deleting queue %q: %w", queue, err))
		}
	}
	if exchange != "" {
		if err := do(func(ch *amqp.Channel) error { return ch.ExchangeDelete(exchange, false, false) }); err != nil {
			errs = append(errs, fmt.Errorf("deleting exchange %q: %w", exchange, err))
		}
	}
	return errors.Join(errs...)
}

// native runs amqp091-go: a durable queue on the default exchange, one
// publisher connection in confirm mode, one consumer connection.
func (a amqpBench) native(sync16 bool) func(ctx context.Context, r *benchkit.Run) error {
	return func(ctx context.Context, r *benchkit.Run) (err error) {
		queue := freshName("native-bench")
		pubConn, err := amqp.Dial(a.url)
		if err != nil {
			return err
		}
		defer pubConn.Close()
		subConn, err := amqp.Dial(a.url)
		if err != nil {
			return err
		}
		defer subConn.Close()
		pubCh, err := pubConn.Channel()
		if err != nil {
			return err
		}
		if _, err := pubCh.QueueDeclare(queue, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declaring queue %q: %w", queue, err)
		}
		defer func() {
			if cerr := a.delete(queue, ""); cerr != nil && err == nil {
				err = fmt.Errorf("cleanup: %w", cerr)
			}
		}()
		if err := pubCh.Confirm(false); err != nil {
			return err
		}
		subCh, err := subConn.Channel()
		if err != nil {
			return err
		}
		if err := subCh.Qos(subWindow, 0, false); err != nil {
			return err
		}
		deliveries, err := subCh.Consume(queue, "", false, false, false, false, nil)
		if err != nil {
			return err
		}
		go func() {
			for d := range deliveries {
				r.Received(d.Body)
				_ = d.Ack(false)
			}
		}()
		publish := func(ctx context.Context, p []byte) (*amqp.DeferredConfirmation, error) {
			return pubCh.PublishWithDeferredConfirmWithContext(ctx, "", queue, false, false,
				amqp.Publishing{DeliveryMode: amqp.Persistent, Body: p})
		}
		confirmed := func(ctx context.Context, dc *amqp.DeferredConfirmation, err error) error {
			if err != nil {
				return err
			}
			ok, err := dc.WaitContext(ctx)
			if err == nil && !ok {
				err = errors.New("nacked by the broker")
			}
			return err
		}
		if err := r.WarmUp(ctx, func(ctx context.Context, p []byte) error {
			dc, err := publish(ctx, p)
			return confirmed(ctx, dc, err)
		}); err != nil {
			return err
		}
		if sync16 {
			err = r.Publish(ctx, syncPublishers, 1, func(ctx context.Context, from, _ int) error {
				dc, err := publish(ctx, r.Payload(from))
				return confirmed(ctx, dc, err)
			})
		} else {
			err = publishWindowed(ctx, r, publish, confirmed)
		}
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		return r.Wait(ctx)
	}
}

// publishWindowed publishes from one goroutine with up to pubWindow
// confirms outstanding, waited for in order by a second goroutine.
func publishWindowed(ctx context.Context, r *benchkit.Run,
	publish func(context.Context, []byte) (*amqp.DeferredConfirmation, error),
	confirmed func(context.Context, *amqp.DeferredConfirmation, error) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pending := make(chan *amqp.DeferredConfirmation, pubWindow-1) // plus the one being waited for
	var waitErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for dc := range pending {
			if err := confirmed(ctx, dc, nil); err != nil && waitErr == nil {
				waitErr = err
				cancel()
			}
		}
	}()
	r.Start()
	var pubErr error
	for seq := 0; seq < r.N && pubErr == nil; seq++ {
		dc, err := publish(ctx, r.Payload(seq))
		if err != nil {
			pubErr = err
			break
		}
		select {
		case pending <- dc:
		case <-ctx.Done():
			pubErr = ctx.Err()
		}
	}
	close(pending)
	wg.Wait()
	r.Published()
	if waitErr != nil {
		return waitErr
	}
	return pubErr
}

func (a amqpBench) watermill(context.Context, string) (message.Publisher, message.Subscriber, error) {
	cfg := wamqp.NewDurableQueueConfig(a.url)
	cfg.Publish.ConfirmDelivery = true
	pub, err := wamqp.NewPublisher(cfg, watermill.NopLogger{})
	if err != nil {
		return nil, nil, err
	}
	sub, err := wamqp.NewSubscriber(cfg, watermill.NopLogger{})
	if err != nil {
		_ = pub.Close()
		return nil, nil, err
	}
	return pub, sub, nil
}
