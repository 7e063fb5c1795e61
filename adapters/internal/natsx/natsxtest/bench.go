package natsxtest

import (
	"context"
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// PayloadSize is the size of every benchmark message.
const PayloadSize = 1024

// BenchWindow is the window of the benchmark: at most this many messages
// await their PubAck, and the stream's window.
const BenchWindow = 256

// StreamPath measures the driver alone (no publisher or subscriber
// package): b.N messages of PayloadSize sent with at most BenchWindow
// awaiting their answer, received by one stream of BenchWindow and each
// acked. allocs/op is per message, both sides.
func StreamPath(b *testing.B, f Fixture) {
	topic := f.Topic(b)
	st := OpenStream(b, f.OpenSubscription(b, "bench", ""), topic, BenchWindow, nil)
	tp := f.OpenTopic(b, "")
	payload := make([]byte, PayloadSize)
	MustPublish(b, tp, topic, herald.NewMessage(payload)) // provisions the stream
	buf := make([]adapters.Received, 64)
	ReceiveAcked(b, st, buf, 1, nil)
	errs := make(chan error, 1)
	window := make(chan struct{}, BenchWindow)
	done := func(err error) {
		<-window
		if err != nil {
			select {
			case errs <- err:
			default:
			}
		}
	}
	b.ReportAllocs()
	b.SetBytes(PayloadSize)
	b.ResetTimer()
	go func() {
		for range b.N {
			window <- struct{}{}
			if err := tp.Send(context.Background(), topic, herald.NewMessage(payload), adapters.SendOptions{}, done); err != nil {
				errs <- err
				return
			}
		}
	}()
	ReceiveAcked(b, st, buf, b.N, func() {
		select {
		case err := <-errs:
			b.Fatal(err)
		default:
		}
	})
}

// ReceiveAcked receives from st into buf, acking each delivery, until n
// were received; after each Receive it calls each (when not nil).
func ReceiveAcked(t testing.TB, st adapters.Stream, buf []adapters.Received, n int, each func()) {
	t.Helper()
	for got := 0; got < n; {
		k, err := st.Receive(context.Background(), buf)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range buf[:k] {
			st.Ack(d.Token)
		}
		got += k
		if each != nil {
			each()
		}
	}
}
