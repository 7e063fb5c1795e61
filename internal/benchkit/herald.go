package benchkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// AsyncPublish publishes messages 0 to r.N-1 to topic through pub's
// asynchronous API (Publisher.PublishAsync and Flush, async.go), from one
// producer goroutine, with payloads from r.Payload(seq): it calls r.Start
// before the first publish and r.Published after the final Flush
// returned, and returns the first failure of any message. While it is
// nil, HeraldCases has no NameHeraldAsync case.
var AsyncPublish func(ctx context.Context, pub *publisher.Publisher, topic string, r *Run) error

// HeraldOptions configure a Herald case, run through the public API only
// (publisher.Open and subscriber.Open with their defaults).
type HeraldOptions struct {
	Broker string // groups the case for ratios
	Name   string // default "herald-p<Publishers>-c<Concurrency>" or "herald-b<Batch>-c<Concurrency>"
	Target string // the backend URL ("" reads HERALD_URL, as Open does)
	// Publishers goroutines each call Publish with Batch messages per call
	// (defaults 1 and 1); Concurrency is subscriber.WithConcurrency
	// (default 1).
	Publishers, Batch, Concurrency int
	// Async publishes through AsyncPublish instead (one producer).
	Async bool
	// Topic, when set, is the topic of every run; by default each run uses
	// a fresh topic and group.
	Topic string
	// Group is the subscriber group (default: fresh per run).
	Group string
	// Cleanup, when set, is called after each run with its topic and group
	// once the publisher and subscriber are closed, to delete what the run
	// created on the broker.
	Cleanup func(ctx context.Context, topic, group string) error
	// Logger for the publisher and subscriber (default: theirs).
	Logger *slog.Logger
	// Keys, when above 0, gives message i the key "k<i mod Keys>"
	// (herald.SetKey).
	Keys int
	// HandlerDelay is how long the handler works on each message.
	HandlerDelay time.Duration
	// Desc overrides the generated description.
	Desc string
	// N overrides the Runner's message count (see Case.N).
	N func(size int) int
}

// HeraldCases returns the standard Herald cases of a broker: 1 and 16
// synchronous publishers, Publish of 100 messages per call, subscriber
// concurrency 1 and 8, and the asynchronous path when AsyncPublish is set.
func HeraldCases(broker, target string, cleanup func(ctx context.Context, topic, group string) error) []Case {
	base := HeraldOptions{Broker: broker, Target: target, Cleanup: cleanup}
	with := func(name string, pubs, batch, conc int) HeraldOptions {
		o := base
		o.Name, o.Publishers, o.Batch, o.Concurrency = name, pubs, batch, conc
		return o
	}
	opts := []HeraldOptions{
		with(NameHeraldP1, 1, 1, 1),
		with(NameHeraldP16C1, 16, 1, 1),
		with(NameHeraldP16C8, 16, 1, 8),
		with(NameHeraldB100C1, 1, 100, 1),
		with(NameHeraldB100C8, 1, 100, 8),
	}
	if AsyncPublish != nil {
		o := with(NameHeraldAsync, 1, 1, 1)
		o.Async = true
		opts = append(opts, o)
	}
	cases := make([]Case, len(opts))
	for i, o := range opts {
		cases[i] = HeraldCase(o)
	}
	return cases
}

// HeraldCase returns a case that publishes through a herald Publisher and
// consumes with a herald Subscriber (a handler that records each payload
// and returns nil).
func HeraldCase(o HeraldOptions) Case {
	o.Publishers, o.Batch, o.Concurrency = max(o.Publishers, 1), max(o.Batch, 1), max(o.Concurrency, 1)
	desc := fmt.Sprintf("Herald: %d goroutine(s) calling Publish with %d message(s) per call; subscriber.WithConcurrency(%d)", o.Publishers, o.Batch, o.Concurrency)
	if o.Batch == 1 {
		desc = fmt.Sprintf("Herald: %d goroutine(s) calling Publish (one message each, synchronous); subscriber.WithConcurrency(%d)", o.Publishers, o.Concurrency)
	}
	if o.Async {
		desc = fmt.Sprintf("Herald: asynchronous publish from one goroutine, then Flush; subscriber.WithConcurrency(%d)", o.Concurrency)
	}
	if o.Name == "" {
		o.Name = fmt.Sprintf("herald-p%d-c%d", o.Publishers, o.Concurrency)
		if o.Batch > 1 {
			o.Name = fmt.Sprintf("herald-b%d-c%d", o.Batch, o.Concurrency)
		}
	}
	if o.Keys > 0 {
		desc += fmt.Sprintf("; %d keys", o.Keys)
	}
	if o.HandlerDelay > 0 {
		desc += fmt.Sprintf("; the handler takes %v", o.HandlerDelay)
	}
	if o.Desc != "" {
		desc = o.Desc
	}
	return Case{Broker: o.Broker, Name: o.Name, Desc: desc, N: o.N, Run: func(ctx context.Context, r *Run) error { return runHerald(ctx, o, r) }}
}

func runHerald(ctx context.Context, o HeraldOptions, r *Run) (err error) {
	if o.Async && AsyncPublish == nil {
		return errors.New("benchkit: the asynchronous publish path is not wired (benchkit.AsyncPublish is nil)")
	}
	topic, group := o.Topic, o.Group
	id := herald.NewID()
	if topic == "" {
		topic = "herald.bench." + id
	}
	if group == "" {
		group = "bench-" + id
	}
	var pubOpts []publisher.Option
	subOpts := []subscriber.Option{subscriber.WithGroup(group), subscriber.WithConcurrency(o.Concurrency)}
	if o.Logger != nil {
		pubOpts = append(pubOpts, publisher.WithLogger(o.Logger))
		subOpts = append(subOpts, subscriber.WithLogger(o.Logger))
	}
	ready := make(chan struct{}, 1)
	subOpts = append(subOpts, subscriber.WithReady(func(string) {
		select {
		case ready <- struct{}{}:
		default:
		}
	}))
	sub, err := subscriber.Open(ctx, o.Target, subOpts...)
	if err != nil {
		return err
	}
	pub, err := publisher.Open(ctx, o.Target, pubOpts...)
	if err != nil {
		_ = sub.Close()
		return err
	}
	subCtx, stopSub := context.WithCancel(ctx)
	subErr := make(chan error, 1)
	defer func() {
		stopSub()
		if cerr := sub.Close(); cerr != nil && err == nil {
			err = cerr
		}
		if cerr := pub.Close(); cerr != nil && err == nil {
			err = cerr
		}
		if o.Cleanup != nil && o.Topic == "" {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if cerr := o.Cleanup(cctx, topic, group); cerr != nil && err == nil {
				err = fmt.Errorf("cleanup: %w", cerr)
			}
		}
	}()
	go func() {
		subErr <- sub.Subscribe(subCtx, topic, func(_ context.Context, m *herald.Message) error {
			if o.HandlerDelay > 0 {
				time.Sleep(o.HandlerDelay)
			}
			r.Received(m.Payload)
			return nil
		})
	}()
	select {
	case <-ready:
	case err := <-subErr:
		return fmt.Errorf("subscribe: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
	// Warm up outside the timed part (topic creation, metadata, producer
	// IDs, group assignment): the warm-up message's sequence number is N,
	// which the consumer recognises and does not count.
	if err := r.WarmUp(ctx, func(ctx context.Context, p []byte) error {
		return pub.Publish(ctx, topic, herald.NewMessage(p))
	}); err != nil {
		return err
	}
	if o.Async {
		err = AsyncPublish(ctx, pub, topic, r)
	} else {
		err = r.Publish(ctx, o.Publishers, o.Batch, func(ctx context.Context, from, to int) error {
			msgs := make([]*herald.Message, to-from)
			for i := range msgs {
				msgs[i] = herald.NewMessage(r.Payload(from + i))
				if o.Keys > 0 {
					herald.SetKey(msgs[i], "k"+strconv.Itoa((from+i)%o.Keys))
				}
			}
			return pub.Publish(ctx, topic, msgs...)
		})
	}
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case e := <-subErr:
			if e == nil {
				e = errors.New("the subscription ended before every message arrived")
			}
			subErr <- e
			cancel()
		case <-waitCtx.Done():
		}
	}()
	if err := r.Wait(waitCtx); err != nil {
		select {
		case e := <-subErr:
			return fmt.Errorf("%w (subscribe: %v)", err, e)
		default:
			return err
		}
	}
	return nil
}
