package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill"
	wmjs "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/jetstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/benchkit"
)

// natsCases returns the native and Watermill cases, and the cleanup of
// Herald's streams.
func natsCases(target string) ([]benchkit.Case, func(ctx context.Context, topic, group string) error, error) {
	nb := natsBench{url: target, window: consumeWindow(target)}
	cases := []benchkit.Case{
		{Broker: "nats", Name: benchkit.NameNative, Run: nb.native(false, false, false),
			Desc: fmt.Sprintf("nats.go jetstream: PublishAsync with at most %d pending (Herald's async window), then PublishAsyncComplete; file-storage stream; durable pull consumer (Consume with PullMaxMessages %d, Herald's consume window on JetStream, explicit ack), Ack each after handling", pubWindow, nb.window)},
		{Broker: "nats", Name: benchkit.NameNativeDefaults, Run: nb.native(false, false, true),
			Desc: "as native at nats.go's own defaults (PublishAsync max pending 4000, Consume's 500 messages per pull): the ceiling"},
		{Broker: "nats", Name: benchkit.NameNativeHeaders, Run: nb.native(false, true, false),
			Desc: "as native, each message with the two headers Herald sends: Nats-Msg-Id (\"<ID> <subject>\": the stream drops a resent duplicate) and Watermill's _watermill_message_uuid (what watermill-nats reads)"},
		{Broker: "nats", Name: benchkit.NameNativeSync16, Run: nb.native(true, false, false),
			Desc: fmt.Sprintf("nats.go jetstream: %d goroutines each calling Publish (waits for its PubAck); the same consumer", syncPublishers)},
		{Broker: "nats", Name: benchkit.NameNativeSync16Headers, Run: nb.native(true, true, false),
			Desc: "as native-sync16, each message with the headers Herald sends (see native-headers)"},
		watermillCase("nats", "watermill-nats pkg/jetstream: NewPublisher and NewSubscriber with their defaults (stream per topic created by SubscribeInitialize, ephemeral consumer)",
			nb.watermill, true, nb.deleteStream),
	}
	return cases, func(ctx context.Context, topic, _ string) error {
		return nb.deleteStreamOf(ctx, topic)
	}, nil
}

// natsBench runs the native NATS cases against url; window is the
// consume window of Herald's subscriber on it (consumeWindow), which the
// native consumer keeps.
type natsBench struct {
	url    string
	window int
}

func (nb natsBench) js(opts ...jetstream.JetStreamOpt) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(nb.url)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc, opts...)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// deleteStream deletes a stream by name.
func (nb natsBench) deleteStream(ctx context.Context, name string) error {
	nc, js, err := nb.js()
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("deleting stream %q: %w", name, err)
	}
	return nil
}

// deleteStreamOf deletes the stream that captures subject.
func (nb natsBench) deleteStreamOf(ctx context.Context, subject string) error {
	nc, js, err := nb.js()
	if err != nil {
		return err
	}
	defer nc.Close()
	name, err := js.StreamNameBySubject(ctx, subject)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking up the stream of %q: %w", subject, err)
	}
	if err := js.DeleteStream(ctx, name); err != nil {
		return fmt.Errorf("deleting stream %q: %w", name, err)
	}
	return nil
}

// native runs nats.go's jetstream package: a file-storage stream per run,
// PublishAsync with a bounded pending window (or 16 goroutines of
// Publish), a durable pull consumer acking each message. With headers,
// each message carries the headers Herald's publisher sets; with
// defaults, the windows are nats.go's own instead of Herald's.
func (nb natsBench) native(sync16, headers, defaults bool) func(ctx context.Context, r *benchkit.Run) error {
	return func(ctx context.Context, r *benchkit.Run) (err error) {
		name := freshName("native-bench")
		var mu sync.Mutex
		var asyncErr error
		opts := []jetstream.JetStreamOpt{jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
			mu.Lock()
			if asyncErr == nil {
				asyncErr = err
			}
			mu.Unlock()
		})}
		var consumeOpts []jetstream.PullConsumeOpt
		if !defaults {
			opts = append(opts, jetstream.WithPublishAsyncMaxPending(pubWindow))
			consumeOpts = append(consumeOpts, jetstream.PullMaxMessages(nb.window))
		}
		pubConn, js, err := nb.js(opts...)
		if err != nil {
			return err
		}
		defer pubConn.Close()
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name}, Storage: jetstream.FileStorage})
		if err != nil {
			return fmt.Errorf("creating stream %q: %w", name, err)
		}
		defer func() {
			cctx, cancel := cleanupCtx()
			defer cancel()
			if cerr := nb.deleteStream(cctx, name); cerr != nil && err == nil {
				err = fmt.Errorf("cleanup: %w", cerr)
			}
		}()
		subConn, subJS, err := nb.js()
		if err != nil {
			return err
		}
		defer subConn.Close()
		cons, err := subJS.CreateConsumer(ctx, name, jetstream.ConsumerConfig{Durable: "bench", AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy})
		if err != nil {
			return fmt.Errorf("creating consumer: %w", err)
		}
		cc, err := cons.Consume(func(m jetstream.Msg) {
			r.Received(m.Data())
			_ = m.Ack()
		}, consumeOpts...)
		if err != nil {
			return fmt.Errorf("consume: %w", err)
		}
		defer cc.Stop()
		if err := r.WarmUp(ctx, func(ctx context.Context, p []byte) error {
			_, err := js.Publish(ctx, name, p)
			return err
		}); err != nil {
			return err
		}
		if sync16 {
			err = r.Publish(ctx, syncPublishers, 1, func(ctx context.Context, from, _ int) error {
				_, err := js.PublishMsg(ctx, nb.msg(name, r.Payload(from), headers))
				return err
			})
		} else {
			r.Start()
			for seq := 0; seq < r.N && err == nil; seq++ {
				m := nb.msg(name, r.Payload(seq), headers)
				// PublishAsync waits while the window is full, up to its
				// stall wait (200 ms), then fails: try again then.
				for {
					_, err = js.PublishMsgAsync(m)
					if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) || ctx.Err() != nil {
						break
					}
				}
			}
			if err == nil {
				select {
				case <-js.PublishAsyncComplete():
				case <-ctx.Done():
					err = ctx.Err()
				}
			}
			r.Published()
			mu.Lock()
			if err == nil {
				err = asyncErr
			}
			mu.Unlock()
		}
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		return r.Wait(ctx)
	}
}

// msg is a message of the native cases: the payload alone, or with the
// headers Herald's publisher sets.
func (natsBench) msg(subject string, payload []byte, headers bool) *nats.Msg {
	m := &nats.Msg{Subject: subject, Data: payload}
	if headers {
		id := herald.NewID()
		m.Header = nats.Header{"Nats-Msg-Id": {id + " " + subject}, "_watermill_message_uuid": {id}}
	}
	return m
}

func (nb natsBench) watermill(context.Context, string) (message.Publisher, message.Subscriber, error) {
	pub, err := wmjs.NewPublisher(wmjs.PublisherConfig{URL: nb.url, Logger: watermill.NopLogger{}})
	if err != nil {
		return nil, nil, err
	}
	sub, err := wmjs.NewSubscriber(wmjs.SubscriberConfig{URL: nb.url, Logger: watermill.NopLogger{}})
	if err != nil {
		_ = pub.Close()
		return nil, nil, err
	}
	return pub, sub, nil
}
