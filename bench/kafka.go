package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald/internal/benchkit"
)

// kafkaLinger is the franz-go ProducerLinger of the native cases (-kafka-linger).
var kafkaLinger time.Duration

// kafkaPartitions is the partition count of the native cases' topics:
// Herald's default, so that both spread over the same number of
// partitions.
const kafkaPartitions = 6

// kafkaCases returns the native and Watermill cases, and the cleanup of
// Herald's topics and groups.
func kafkaCases(target string) ([]benchkit.Case, func(ctx context.Context, topic, group string) error, error) {
	seeds, err := kafkaSeeds(target)
	if err != nil {
		return nil, nil, err
	}
	k := kafkaBench{seeds: seeds, linger: kafkaLinger}
	cases := []benchkit.Case{
		{Broker: "kafka", Name: benchkit.NameNative, Run: k.native(false, false),
			Desc: fmt.Sprintf("franz-go: Produce with promises, up to %d records in flight (Herald's async window), acks=all, idempotent (defaults), ProducerLinger %v; group consumer (%d partitions) polling at most %d records (Herald's consume window), MarkCommitRecords after handling, autocommit of marks", pubWindow, kafkaLinger, kafkaPartitions, subWindow)},
		{Broker: "kafka", Name: benchkit.NameNativeDefaults, Run: k.native(false, true),
			Desc: "as native at franz-go's own defaults (Produce bounded by its 10000 buffered records, its default linger; PollFetches): the ceiling"},
		{Broker: "kafka", Name: benchkit.NameNativeSync16, Run: k.native(true, false),
			Desc: fmt.Sprintf("franz-go: %d goroutines each calling ProduceSync with one record (ProduceSync does not linger); the same consumer", syncPublishers)},
		watermillCase("kafka", "watermill-kafka: NewPublisher with its default (DefaultSaramaSyncPublisherConfig), NewSubscriber with DefaultSaramaSubscriberConfig and Offsets.Initial = OffsetOldest (its docs); topic auto-created by the broker",
			k.watermill, false, k.cleanupWatermill),
	}
	return cases, k.cleanup, nil
}

// kafkaSeeds reads the broker addresses of a kafka:// URL.
func kafkaSeeds(target string) ([]string, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "kafka" || u.Host == "" {
		return nil, fmt.Errorf("HERALD_TEST_KAFKA: %q is not a kafka://host:port[,host:port] URL", target)
	}
	if u.User != nil || u.Query().Get("tls") != "" || u.Query().Get("sasl") != "" {
		return nil, errors.New("HERALD_TEST_KAFKA: the benchmark's native clients support plain brokers only (no TLS, no SASL)")
	}
	return strings.Split(u.Host, ","), nil
}

type kafkaBench struct {
	seeds  []string
	linger time.Duration // franz-go ProducerLinger of the native cases
}

func (k kafkaBench) admin() (*kadm.Client, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.seeds...))
	if err != nil {
		return nil, err
	}
	return kadm.NewClient(cl), nil
}

// cleanup deletes a topic and, when given, a group.
func (k kafkaBench) cleanup(ctx context.Context, topic, group string) error {
	adm, err := k.admin()
	if err != nil {
		return err
	}
	defer adm.Close()
	var errs []error
	if group != "" {
		if _, err := adm.DeleteGroups(ctx, group); err != nil {
			errs = append(errs, fmt.Errorf("deleting group %q: %w", group, err))
		}
	}
	resp, err := adm.DeleteTopics(ctx, topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("deleting topic %q: %w", topic, err))
	}
	return errors.Join(errs...)
}

// cleanupWatermill deletes the topic of a Watermill case and its group.
func (k kafkaBench) cleanupWatermill(ctx context.Context, topic string) error {
	return k.cleanup(ctx, topic, watermillGroup(topic))
}

// watermillGroup is the consumer group of a Watermill case's topic.
func watermillGroup(topic string) string { return topic + "-group" }

// native runs franz-go: pubWindow records in flight through Produce, or
// 16 goroutines of ProduceSync; a group consumer polling up to subWindow
// records and marking them for commit after handling them. With
// defaults, franz-go's own buffer, linger and fetches bound it instead.
func (k kafkaBench) native(sync16, defaults bool) func(ctx context.Context, r *benchkit.Run) error {
	return func(ctx context.Context, r *benchkit.Run) (err error) {
		topic, group := freshName("native-bench"), freshName("native-bench")
		adm, err := k.admin()
		if err != nil {
			return err
		}
		defer adm.Close()
		if _, err := adm.CreateTopic(ctx, kafkaPartitions, -1, nil, topic); err != nil {
			return fmt.Errorf("creating topic %q: %w", topic, err)
		}
		if err := waitTopicReady(ctx, adm, topic, kafkaPartitions); err != nil {
			return err
		}
		defer func() {
			cctx, cancel := cleanupCtx()
			defer cancel()
			if cerr := k.cleanup(cctx, topic, group); cerr != nil && err == nil {
				err = fmt.Errorf("cleanup: %w", cerr)
			}
		}()
		popts := []kgo.Opt{kgo.SeedBrokers(k.seeds...), kgo.DefaultProduceTopic(topic), debugLog("producer"),
			kgo.RequiredAcks(kgo.AllISRAcks())} // the default, said out loud; idempotence is on by default
		if !defaults {
			popts = append(popts, kgo.ProducerLinger(k.linger))
		}
		prod, err := kgo.NewClient(popts...)
		if err != nil {
			return err
		}
		defer prod.Close()
		cons, err := kgo.NewClient(kgo.SeedBrokers(k.seeds...), debugLog("consumer"), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AutoCommitMarks(), kgo.BlockRebalanceOnPoll())
		if err != nil {
			return err
		}
		consumeCtx, stopConsume := context.WithCancel(ctx)
		var consuming sync.WaitGroup
		defer func() {
			stopConsume()
			consuming.Wait()
			cctx, cancel := cleanupCtx()
			defer cancel()
			_ = cons.CommitMarkedOffsets(cctx)
			cons.Close()
		}()
		consuming.Add(1)
		go func() {
			defer consuming.Done()
			for consumeCtx.Err() == nil {
				var fs kgo.Fetches
				if defaults {
					fs = cons.PollFetches(consumeCtx)
				} else {
					fs = cons.PollRecords(consumeCtx, subWindow)
				}
				if fs.IsClientClosed() {
					return
				}
				fs.EachRecord(func(rec *kgo.Record) { r.Received(rec.Value) })
				cons.MarkCommitRecords(fs.Records()...)
				cons.AllowRebalance()
			}
		}()
		if err := r.WarmUp(ctx, func(ctx context.Context, p []byte) error {
			return prod.ProduceSync(ctx, &kgo.Record{Value: p}).FirstErr()
		}); err != nil {
			return err
		}
		if sync16 {
			err = r.Publish(ctx, syncPublishers, 1, func(ctx context.Context, from, _ int) error {
				return prod.ProduceSync(ctx, &kgo.Record{Value: r.Payload(from)}).FirstErr()
			})
		} else {
			w := pubWindow
			if defaults {
				w = 0
			}
			err = produceWindowed(ctx, prod, r, w)
		}
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		return r.Wait(ctx)
	}
}

// waitTopicReady waits until every partition of a new topic has a leader
// that serves it (ListOffsets answers for it), so that the clients created
// next see the whole topic at once. Otherwise the consumer can get
// UNKNOWN_TOPIC_OR_PARTITION for a partition whose log the broker has not
// created yet, reload its offset a second later, and leave that partition
// out of the fetch then in flight, which the broker holds for
// FetchMaxWait (5 s): a stall that has nothing to do with throughput.
func waitTopicReady(ctx context.Context, adm *kadm.Client, topic string, partitions int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		td, err := adm.ListTopics(ctx, topic)
		ready := err == nil && td[topic].Err == nil && len(td[topic].Partitions) == partitions
		if ready {
			for _, p := range td[topic].Partitions {
				ready = ready && p.Err == nil && p.Leader >= 0
			}
		}
		if ready {
			offs, err := adm.ListStartOffsets(ctx, topic)
			n := 0
			ready = err == nil
			if ready {
				offs.Each(func(o kadm.ListedOffset) {
					if o.Err == nil {
						n++
					}
				})
				ready = n == partitions
			}
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %q: not every partition served after 30s: %w", topic, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// produceWindowed keeps up to window records in flight through Produce
// and its promises (0: as many as franz-go buffers, Produce blocking
// while its buffer is full), then flushes.
func produceWindowed(ctx context.Context, prod *kgo.Client, r *benchkit.Run, window int) error {
	if window <= 0 {
		window = r.N
	}
	sem := make(chan struct{}, window)
	var mu sync.Mutex
	var first error
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if first == nil {
				first = err
			}
			mu.Unlock()
		}
		<-sem
	}
	r.Start()
	for seq := 0; seq < r.N; seq++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		prod.Produce(ctx, &kgo.Record{Value: r.Payload(seq)}, promise)
	}
	if err := prod.Flush(ctx); err != nil {
		return err
	}
	r.Published()
	mu.Lock()
	defer mu.Unlock()
	return first
}

func (k kafkaBench) watermill(_ context.Context, topic string) (message.Publisher, message.Subscriber, error) {
	pub, err := wmkafka.NewPublisher(wmkafka.PublisherConfig{Brokers: k.seeds, Marshaler: wmkafka.DefaultMarshaler{}}, nil)
	if err != nil {
		return nil, nil, err
	}
	conf := wmkafka.DefaultSaramaSubscriberConfig()
	conf.Consumer.Offsets.Initial = sarama.OffsetOldest
	sub, err := wmkafka.NewSubscriber(wmkafka.SubscriberConfig{
		Brokers:               k.seeds,
		Unmarshaler:           wmkafka.DefaultMarshaler{},
		ConsumerGroup:         watermillGroup(topic),
		OverwriteSaramaConfig: conf,
	}, nil)
	if err != nil {
		_ = pub.Close()
		return nil, nil, err
	}
	return pub, sub, nil
}

// debugLog logs the native Kafka clients at info level to stderr when
// HERALD_BENCH_KAFKA_DEBUG=1.
func debugLog(who string) kgo.Opt {
	if os.Getenv("HERALD_BENCH_KAFKA_DEBUG") != "1" {
		return kgo.WithLogger(nil)
	}
	return kgo.WithLogger(kgo.BasicLogger(os.Stderr, logLevel(), func() string { return time.Now().Format("15:04:05.000 ") + who + " " }))
}

func logLevel() kgo.LogLevel {
	if os.Getenv("HERALD_BENCH_KAFKA_DEBUG_LEVEL") == "debug" {
		return kgo.LogLevelDebug
	}
	return kgo.LogLevelInfo
}
