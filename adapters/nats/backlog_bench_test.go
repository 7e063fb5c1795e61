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
		group := "g" + strconv.FormatInt(time.Now().UnixNano(), 36)
		sub, err := subscriber.Open(context.Background(), withQuery(u, "group="+group), subscriber.WithWindow(natsxtest.BenchWindow))
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = sub.Close() }()
		if err := sub.Prepare(context.Background(), tp); err != nil {
			b.Fatal(err)
		}
		backlog(b, u, tp)
		var got atomic.Int64
		all := make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		b.ReportAllocs()
		b.ResetTimer()
		stop := profileTimed(b)
		defer stop()
		go func() {
			errc <- sub.Subscribe(ctx, tp, func(context.Context, *herald.Message) error {
				if got.Add(1) == int64(b.N) {
					close(all)
				}
				return nil
			})
		}()
		waitAll(b, all, errc, &got)
		b.StopTimer()
		stop()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		cancel()
		if err := <-errc; err != nil {
			b.Error(err)
		}
	})
	b.Run("driver", func(b *testing.B) {
		f := fixture(b, "", "")
		tp := topic(b)
		s := f.OpenSubscription(b, "g"+strconv.FormatInt(time.Now().UnixNano(), 36), "")
		if err := s.Prepare(context.Background(), tp); err != nil {
			b.Fatal(err)
		}
		backlog(b, brokerURL(b), tp)
		b.ReportAllocs()
		b.ResetTimer()
		stop := profileTimed(b)
		defer stop()
		st := natsxtest.OpenStream(b, s, tp, natsxtest.BenchWindow, nil)
		buf := make([]adapters.Received, 64)
		for got := 0; got < b.N; {
			n, err := st.Receive(context.Background(), buf)
			if err != nil {
				b.Fatal(err)
			}
			for _, d := range buf[:n] {
				st.Ack(d.Token)
			}
			got += n
		}
		b.StopTimer()
		stop()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("native", func(b *testing.B) {
		u, tp := brokerURL(b), topic(b)
		backlog(b, u, tp)
		nc, err := nats.Connect(u)
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		name, err := js.StreamNameBySubject(ctx, tp)
		if err != nil {
			b.Fatal(err)
		}
		cons, err := js.CreateConsumer(ctx, name, jetstream.ConsumerConfig{
			Durable: "native", AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy, FilterSubject: tp,
		})
		if err != nil {
			b.Fatal(err)
		}
		var got atomic.Int64
		all := make(chan struct{})
		b.ReportAllocs()
		b.ResetTimer()
		stop := profileTimed(b)
		defer stop()
		cc, err := cons.Consume(func(m jetstream.Msg) {
			_ = m.Ack()
			if got.Add(1) == int64(b.N) {
				close(all)
			}
		}, jetstream.PullMaxMessages(natsxtest.BenchWindow))
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Stop()
		waitAll(b, all, nil, &got)
		b.StopTimer()
		stop()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}

// backlog publishes b.N messages of natsxtest.PayloadSize to topic with
// Herald's publisher (default async window) and waits for their acks.
func backlog(b *testing.B, u, topic string) {
	b.Helper()
	pub, err := publisher.Open(context.Background(), u)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = pub.Close() }()
	payload := make([]byte, natsxtest.PayloadSize)
	var failed atomic.Pointer[error]
	done := func(_ *herald.Message, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	ctx := context.Background()
	for range b.N {
		if err := pub.PublishAsync(ctx, topic, herald.NewMessage(payload), done); err != nil {
			b.Fatal(err)
		}
	}
	if err := pub.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if p := failed.Load(); p != nil {
		b.Fatal(*p)
	}
}

// waitAll waits for all to be closed (errc, when not nil, reports a
// Subscribe that returned first).
func waitAll(b *testing.B, all <-chan struct{}, errc <-chan error, got *atomic.Int64) {
	b.Helper()
	select {
	case <-all:
	case err := <-errc:
		b.Fatalf("Subscribe returned %v after %d of %d", err, got.Load(), b.N)
	case <-time.After(5 * time.Minute):
		b.Fatalf("consumed %d of %d", got.Load(), b.N)
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
	group := "g" + strconv.FormatInt(time.Now().UnixNano(), 36)
	sub, err := subscriber.Open(context.Background(), withQuery(u, "group="+group), subscriber.WithWindow(window),
		subscriber.WithReady(func(string) {}))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = sub.Close() }()
	if err := sub.Prepare(context.Background(), tp); err != nil {
		b.Fatal(err)
	}
	pub, err := publisher.Open(context.Background(), u)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = pub.Close() }()
	payload := make([]byte, natsxtest.PayloadSize)
	var got atomic.Int64
	all := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- sub.Subscribe(ctx, tp, func(context.Context, *herald.Message) error {
			if got.Add(1) == int64(b.N) {
				close(all)
			}
			return nil
		})
	}()
	var failed atomic.Pointer[error]
	done := func(_ *herald.Message, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	stop := profileTimed(b)
	start := time.Now()
	for range b.N {
		if err := pub.PublishAsync(ctx, tp, herald.NewMessage(payload), done); err != nil {
			b.Fatal(err)
		}
	}
	if err := pub.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	published := time.Since(start)
	if p := failed.Load(); p != nil {
		b.Fatal(*p)
	}
	waitAll(b, all, errc, &got)
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/published.Seconds(), "pub-msgs/s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	cancel()
	if err := <-errc; err != nil {
		b.Error(err)
	}
}

func publishConsumeNative(b *testing.B, window int) {
	u, tp := brokerURL(b), topic(b)
	ctx := context.Background()
	pc, err := nats.Connect(u)
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	js, err := jetstream.New(pc, jetstream.WithPublishAsyncMaxPending(1024))
	if err != nil {
		b.Fatal(err)
	}
	name := strings.ReplaceAll(tp, ".", "_")
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{tp}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = js.DeleteStream(context.Background(), name) }()
	sc, err := nats.Connect(u)
	if err != nil {
		b.Fatal(err)
	}
	defer sc.Close()
	sjs, err := jetstream.New(sc)
	if err != nil {
		b.Fatal(err)
	}
	cons, err := sjs.CreateConsumer(ctx, name, jetstream.ConsumerConfig{Durable: "native", AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	all := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		if got.Add(1) == int64(b.N) {
			close(all)
		}
	}, jetstream.PullMaxMessages(window))
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()
	payload := make([]byte, natsxtest.PayloadSize)
	b.ReportAllocs()
	b.ResetTimer()
	stop := profileTimed(b)
	start := time.Now()
	for range b.N {
		for {
			_, err := js.PublishAsync(tp, payload)
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
	published := time.Since(start)
	waitAll(b, all, nil, &got)
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/published.Seconds(), "pub-msgs/s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
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
		pub, err := publisher.Open(context.Background(), u)
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = pub.Close() }()
		payload := make([]byte, natsxtest.PayloadSize)
		ctx := context.Background()
		if err := pub.Publish(ctx, tp, herald.NewMessage(payload)); err != nil { // provisions the stream
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		stop := profileTimed(b)
		done := func(*herald.Message, error) {}
		for range b.N {
			if err := pub.PublishAsync(ctx, tp, herald.NewMessage(payload), done); err != nil {
				b.Fatal(err)
			}
		}
		if err := pub.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		stop()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	for _, headers := range []bool{false, true} {
		name := "native"
		if headers {
			name = "native-headers"
		}
		b.Run(name, func(b *testing.B) {
			u, tp := brokerURL(b), topic(b)
			nc, err := nats.Connect(u)
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1024))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			name := strings.ReplaceAll(tp, ".", "_")
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{tp}, Storage: jetstream.FileStorage}); err != nil {
				b.Fatal(err)
			}
			defer func() { _ = js.DeleteStream(context.Background(), name) }()
			payload := make([]byte, natsxtest.PayloadSize)
			b.ReportAllocs()
			b.ResetTimer()
			stop := profileTimed(b)
			for range b.N {
				m := &nats.Msg{Subject: tp, Data: payload}
				if headers {
					id := herald.NewID()
					m.Header = nats.Header{nats.MsgIdHdr: {id + " " + tp}, "_watermill_message_uuid": {id}}
				}
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
			b.StopTimer()
			stop()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
