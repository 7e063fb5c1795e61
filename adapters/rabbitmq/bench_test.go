package rabbitmq

import (
	"context"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// Driver-level benchmarks of the message path (they bypass the publisher
// and subscriber packages), 1 KiB messages; allocations count every
// goroutine, amqp091's reader and writer included. Herald as users run
// it, beside the native clients, is measured by bench/.
//
//	HERALD_TEST_AMQP=amqp://guest:guest@127.0.0.1:5672/ \
//	  go test ./adapters/rabbitmq -run '^$' -bench 'Path' -benchtime 5000x

func payload1K() []byte {
	p := make([]byte, 1024)
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	return p
}

// sendN sends n messages with at most window waiting for their confirms
// (the facade's async window) and waits for every done.
func sendN(b *testing.B, tp adapters.Topic, topic string, n, window int) {
	b.Helper()
	body := payload1K()
	slots := make(chan struct{}, window)
	errs := make(chan error, 1)
	for range n {
		slots <- struct{}{}
		if err := tp.Send(b.Context(), topic, herald.NewMessage(body), adapters.SendOptions{}, func(err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
			<-slots
		}); err != nil {
			b.Fatal(err)
		}
	}
	for range window {
		slots <- struct{}{}
	}
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// BenchmarkSendPath sends b.N messages with 256 in flight and waits for
// every confirm.
func BenchmarkSendPath(b *testing.B) {
	url := brokerURL(b)
	topic := freshTopic(b)
	b.Cleanup(func() { deleteTopology(b, topic, queueName(topic, "bench", "")) })
	sub := openSubT(b, withQuery(url, "group=bench"))
	if err := sub.Prepare(b.Context(), topic); err != nil {
		b.Fatal(err)
	}
	tp := openTopicT(b, url)
	sendN(b, tp, topic, 1, 1) // connected, exchange declared
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	sendN(b, tp, topic, b.N, 256)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkStreamPath receives b.N messages published beforehand through
// a Stream with window 256 and acks each.
func BenchmarkStreamPath(b *testing.B) {
	url := brokerURL(b)
	topic := freshTopic(b)
	b.Cleanup(func() { deleteTopology(b, topic, queueName(topic, "bench", "")) })
	sub := openSubT(b, withQuery(url, "group=bench"))
	if err := sub.Prepare(b.Context(), topic); err != nil {
		b.Fatal(err)
	}
	sendN(b, openTopicT(b, url), topic, b.N, 256)
	st := openStreamT(b, sub, topic, 256, nil)
	buf := make([]adapters.Received, 64)
	ctx, cancel := context.WithTimeout(b.Context(), 2*time.Minute)
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for got := 0; got < b.N; {
		n, err := st.Receive(ctx, buf)
		if err != nil {
			b.Fatalf("received %d of %d: %v", got, b.N, err)
		}
		for _, r := range buf[:n] {
			st.Ack(r.Token)
		}
		got += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
