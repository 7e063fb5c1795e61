package nats_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// BenchmarkConsumeBacklog measures the consume side alone: b.N 1 KiB
// messages are published with Herald's publisher (its headers) before
// the timer starts, then consumed by a group with a window of
// natsxtest.BenchWindow, each message acked: Herald's subscriber
// (concurrency 1), the driver's Stream alone, and nats.go's Consume
// (PullMaxMessages at the same window, Ack each). msgs/s is the
// consumer's ceiling, allocs/op the consume side's allocations per
// message.
//
//	go test ./adapters/nats -run '^$' -bench ConsumeBacklog -benchtime 100000x -benchmem
func BenchmarkConsumeBacklog(b *testing.B) {
	b.Run("herald", func(b *testing.B) {
		u, tp := brokerURL(b), topic(b)
		sub := heraldSubscriber(b, u, tp, natsxtest.BenchWindow)
		backlog(b, u, tp)
		c := newCounter(b)
		stop := startTimer(b)
		cancel, errc := c.subscribe(sub, tp)
		c.wait(errc)
		stopTimer(b, stop)
		cancel(b)
	})
	b.Run("driver", func(b *testing.B) {
		f := fixture(b, "", "")
		tp := topic(b)
		s := f.OpenSubscription(b, group(), "")
		if err := s.Prepare(context.Background(), tp); err != nil {
			b.Fatal(err)
		}
		backlog(b, brokerURL(b), tp)
		stop := startTimer(b)
		st := natsxtest.OpenStream(b, s, tp, natsxtest.BenchWindow, nil)
		natsxtest.ReceiveAcked(b, st, make([]adapters.Received, 64), b.N, nil)
		stopTimer(b, stop)
	})
	b.Run("native", func(b *testing.B) {
		u, tp := brokerURL(b), topic(b)
		backlog(b, u, tp)
		js := nativeJetStream(b, u)
		name, err := js.StreamNameBySubject(context.Background(), tp)
		if err != nil {
			b.Fatal(err)
		}
		cons := nativeConsumer(b, js, name, tp)
		c := newCounter(b)
		stop := startTimer(b)
		c.consume(cons, natsxtest.BenchWindow)
		c.wait(nil)
		stopTimer(b, stop)
	})
}

// backlog publishes b.N messages of natsxtest.PayloadSize to topic with
// Herald's publisher (default async window) and waits for their acks.
func backlog(b *testing.B, u, topic string) {
	b.Helper()
	pub := heraldPublisher(b, u)
	var failed asyncErr
	publishAll(b, pub, topic, make([]byte, natsxtest.PayloadSize), failed.done)
	failed.check(b)
	_ = pub.Close() // before the timed part (Close is idempotent)
}

// heraldSubscriber opens Herald's subscriber on u in a fresh group with
// window, and the stream of topic; the benchmark's cleanup closes it.
func heraldSubscriber(b *testing.B, u, topic string, window int, opts ...subscriber.Option) *subscriber.Subscriber {
	b.Helper()
	sub, err := subscriber.Open(context.Background(), withQuery(u, "group="+group()), append([]subscriber.Option{subscriber.WithWindow(window)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sub.Close() })
	if err := sub.Prepare(context.Background(), topic); err != nil {
		b.Fatal(err)
	}
	return sub
}

// heraldPublisher opens Herald's publisher on u; the benchmark's cleanup
// closes it.
func heraldPublisher(b *testing.B, u string) *publisher.Publisher {
	b.Helper()
	pub, err := publisher.Open(context.Background(), u)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pub.Close() })
	return pub
}

// publishAll publishes b.N messages of payload to topic with
// PublishAsync, each reported to done, and waits for their acks (Flush).
func publishAll(b *testing.B, pub *publisher.Publisher, topic string, payload []byte, done func(*herald.Message, error)) {
	b.Helper()
	ctx := context.Background()
	for range b.N {
		if err := pub.PublishAsync(ctx, topic, herald.NewMessage(payload), done); err != nil {
			b.Fatal(err)
		}
	}
	if err := pub.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// asyncErr keeps the first error PublishAsync reported.
type asyncErr struct{ p atomic.Pointer[error] }

func (a *asyncErr) done(_ *herald.Message, err error) {
	if err != nil {
		a.p.CompareAndSwap(nil, &err)
	}
}

// check fails the benchmark with the first error reported.
func (a *asyncErr) check(b *testing.B) {
	if p := a.p.Load(); p != nil {
		b.Fatal(*p)
	}
}

// group is a fresh consumer group name.
func group() string { return "g" + strconv.FormatInt(time.Now().UnixNano(), 36) }

// counter counts the messages a benchmark consumes and closes all at the
// b.N-th.
type counter struct {
	b   *testing.B
	got atomic.Int64
	all chan struct{}
}

func newCounter(b *testing.B) *counter { return &counter{b: b, all: make(chan struct{})} }

func (c *counter) add() {
	if c.got.Add(1) == int64(c.b.N) {
		close(c.all)
	}
}

// subscribe runs sub.Subscribe on topic, counting, until the returned
// cancel, which fails the benchmark if Subscribe returned an error; errc
// gets a Subscribe that returned first.
func (c *counter) subscribe(sub *subscriber.Subscriber, topic string) (cancel func(*testing.B), errc <-chan error) {
	ctx, stop := context.WithCancel(context.Background())
	ec := make(chan error, 1)
	go func() {
		ec <- sub.Subscribe(ctx, topic, func(context.Context, *herald.Message) error {
			c.add()
			return nil
		})
	}()
	return func(b *testing.B) {
		stop()
		if err := <-ec; err != nil {
			b.Error(err)
		}
	}, ec
}

// consume runs nats.go's Consume on cons with PullMaxMessages window,
// acking and counting each message, until the benchmark's cleanup.
func (c *counter) consume(cons jetstream.Consumer, window int) {
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		c.add()
	}, jetstream.PullMaxMessages(window))
	if err != nil {
		c.b.Fatal(err)
	}
	c.b.Cleanup(cc.Stop)
}

// wait waits for all to be closed (errc, when not nil, reports a
// Subscribe that returned first).
func (c *counter) wait(errc <-chan error) {
	c.b.Helper()
	select {
	case <-c.all:
	case err := <-errc:
		c.b.Fatalf("Subscribe returned %v after %d of %d", err, c.got.Load(), c.b.N)
	case <-time.After(5 * time.Minute):
		c.b.Fatalf("consumed %d of %d", c.got.Load(), c.b.N)
	}
}

// startTimer starts the timed part (allocations reported, profileTimed's
// figures); stopTimer ends it and reports msgs/s.
func startTimer(b *testing.B) (stop func()) {
	b.ReportAllocs()
	b.ResetTimer()
	stop = profileTimed(b)
	b.Cleanup(stop)
	return stop
}

func stopTimer(b *testing.B, stop func()) {
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// nativeJetStream connects nats.go to u (closed at the benchmark's
// cleanup) and returns its JetStream.
func nativeJetStream(b *testing.B, u string, opts ...jetstream.JetStreamOpt) jetstream.JetStream {
	b.Helper()
	nc, err := nats.Connect(u)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return js
}

// nativeStream creates a file stream for topic alone with nats.go; the
// benchmark's cleanup deletes it.
func nativeStream(b *testing.B, js jetstream.JetStream, topic string) string {
	b.Helper()
	name := strings.ReplaceAll(topic, ".", "_")
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: name, Subjects: []string{topic}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
	return name
}

// nativeConsumer creates the durable consumer "native" on stream with
// explicit acks from the first message (of subject, when not empty).
func nativeConsumer(b *testing.B, js jetstream.JetStream, stream, subject string) jetstream.Consumer {
	b.Helper()
	cons, err := js.CreateConsumer(context.Background(), stream, jetstream.ConsumerConfig{
		Durable: "native", AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy, FilterSubject: subject,
	})
	if err != nil {
		b.Fatal(err)
	}
	return cons
}

// nativePublishAll publishes b.N messages, each msg(), with nats.go's
// PublishMsgAsync (again while too many are pending), and waits until
// every one was acknowledged.
func nativePublishAll(b *testing.B, js jetstream.JetStream, msg func() *nats.Msg) {
	b.Helper()
	for range b.N {
		m := msg()
		for {
			_, err := js.PublishMsgAsync(m)
			if err == nil {
				break
			}
			if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				b.Fatal(err)
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		b.Fatal("PublishAsyncComplete")
	}
}

// profileTimed starts measuring the timed part: the func returned
// reports cpu-us/msg (this process, user+system) and, when
// HERALD_BENCH_BROKER_PID names the broker's process, broker-us/msg
// (from /proc), and writes a CPU profile to
// $HERALD_BENCH_CPUPROFILE.<benchmark name> when that is set (go test's
// -cpuprofile also covers the untimed set-up).
func profileTimed(b *testing.B) func() {
	brokerPID, _ := strconv.Atoi(os.Getenv("HERALD_BENCH_BROKER_PID"))
	self, brk := processCPU(), pidCPU(brokerPID)
	var f *os.File
	if base := os.Getenv("HERALD_BENCH_CPUPROFILE"); base != "" {
		var err error
		if f, err = os.Create(base + "." + strings.ReplaceAll(b.Name(), "/", "_")); err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if f != nil {
				pprof.StopCPUProfile()
				_ = f.Close()
			}
			n := float64(b.N)
			b.ReportMetric(float64((processCPU()-self).Microseconds())/n, "cpu-us/msg")
			if brk > 0 {
				b.ReportMetric(float64((pidCPU(brokerPID)-brk).Microseconds())/n, "broker-us/msg")
			}
		})
	}
}

// processCPU is the user+system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pidCPU is the user+system CPU time of process pid so far (0 when it
// cannot be read): fields 14 and 15 of /proc/PID/stat, in clock ticks of
// 10ms.
func pidCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(st, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(st[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(string(f[11]), 10, 64)
	sy, _ := strconv.ParseInt(string(f[12]), 10, 64)
	return time.Duration(ut+sy) * 10 * time.Millisecond
}

// BenchmarkPublishConsume is end to end at a consume window of 256
// (Herald's default), 512 and 1024: b.N 1 KiB messages published
// asynchronously (Herald: PublishAsync at its default window of 1024;
// nats.go: PublishMsgAsync with at most 1024 pending) while a group
// consumes them (Herald's subscriber, concurrency 1; nats.go's Consume
// with PullMaxMessages at the window), each acked. pub-msgs/s is the
// rate until the last publish was acknowledged, msgs/s until the last
// message was handled; allocs/op counts both sides.
//
//	go test ./adapters/nats -run '^$' -bench PublishConsume -benchtime 100000x -benchmem
func BenchmarkPublishConsume(b *testing.B) {
	for _, w := range []int{256, 512, 1024} {
		b.Run("herald/w="+strconv.Itoa(w), func(b *testing.B) { publishConsumeHerald(b, w) })
		b.Run("native/w="+strconv.Itoa(w), func(b *testing.B) { publishConsumeNative(b, w) })
	}
}

func publishConsumeHerald(b *testing.B, window int) {
	u, tp := brokerURL(b), topic(b)
	sub := heraldSubscriber(b, u, tp, window, subscriber.WithReady(func(string) {}))
	pub := heraldPublisher(b, u)
	c := newCounter(b)
	cancel, errc := c.subscribe(sub, tp)
	var failed asyncErr
	payload := make([]byte, natsxtest.PayloadSize)
	stop := startTimer(b)
	start := time.Now()
	publishAll(b, pub, tp, payload, failed.done)
	published := time.Since(start)
	failed.check(b)
	c.wait(errc)
	stopTimer(b, stop)
	b.ReportMetric(float64(b.N)/published.Seconds(), "pub-msgs/s")
	cancel(b)
}

func publishConsumeNative(b *testing.B, window int) {
	u, tp := brokerURL(b), topic(b)
	js := nativeJetStream(b, u, jetstream.WithPublishAsyncMaxPending(1024))
	name := nativeStream(b, js, tp)
	cons := nativeConsumer(b, nativeJetStream(b, u), name, "")
	c := newCounter(b)
	c.consume(cons, window)
	payload := make([]byte, natsxtest.PayloadSize)
	stop := startTimer(b)
	start := time.Now()
	nativePublishAll(b, js, func() *nats.Msg { return &nats.Msg{Subject: tp, Data: payload} }) // what PublishAsync sends
	published := time.Since(start)
	c.wait(nil)
	stopTimer(b, stop)
	b.ReportMetric(float64(b.N)/published.Seconds(), "pub-msgs/s")
}

// BenchmarkPublishOnly is the publish side alone, to split the broker's
// CPU per message between publishing and consuming: b.N 1 KiB messages
// with no consumer, Herald's PublishAsync (its headers: the message ID
// and the Nats-Msg-Id the stream de-duplicates on), nats.go's
// PublishMsgAsync with at most 1024 pending without headers, and with
// the headers Herald sends.
//
//	HERALD_BENCH_BROKER_PID=<nats-server pid> go test ./adapters/nats -run '^$' -bench PublishOnly -benchtime 100000x -benchmem
func BenchmarkPublishOnly(b *testing.B) {
	b.Run("herald", func(b *testing.B) {
		u, tp := brokerURL(b), topic(b)
		pub := heraldPublisher(b, u)
		payload := make([]byte, natsxtest.PayloadSize)
		if err := pub.Publish(context.Background(), tp, herald.NewMessage(payload)); err != nil { // provisions the stream
			b.Fatal(err)
		}
		stop := startTimer(b)
		publishAll(b, pub, tp, payload, func(*herald.Message, error) {})
		stopTimer(b, stop)
	})
	for _, headers := range []bool{false, true} {
		name := "native"
		if headers {
			name = "native-headers"
		}
		b.Run(name, func(b *testing.B) {
			u, tp := brokerURL(b), topic(b)
			js := nativeJetStream(b, u, jetstream.WithPublishAsyncMaxPending(1024))
			nativeStream(b, js, tp)
			payload := make([]byte, natsxtest.PayloadSize)
			stop := startTimer(b)
			nativePublishAll(b, js, func() *nats.Msg {
				m := &nats.Msg{Subject: tp, Data: payload}
				if headers {
					id := herald.NewID()
					m.Header = nats.Header{nats.MsgIdHdr: {id + " " + tp}, "_watermill_message_uuid": {id}}
				}
				return m
			})
			stopTimer(b, stop)
		})
	}
}
