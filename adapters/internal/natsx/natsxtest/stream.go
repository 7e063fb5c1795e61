package natsxtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// Fixture opens the sides of a backend for the Stream and PublishAsync
// checks; the checks close what they open.
type Fixture struct {
	// Publisher opens a publisher; Subscriber a subscriber in group
	// (never "": the checks need two members sharing messages).
	Publisher  func(t *testing.T) message.Publisher
	Subscriber func(t *testing.T, group string) message.Subscriber
	// Topic returns a fresh topic.
	Topic func(t *testing.T) string
	// CountsAttempts: Delivery.Attempt is the backend's delivery count.
	CountsAttempts bool
}

func openStream(t *testing.T, s message.Subscriber, topic string, window int) adapters.Stream {
	t.Helper()
	ss, ok := s.(adapters.StreamSubscriber)
	if !ok {
		t.Fatalf("%T does not implement adapters.StreamSubscriber", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := ss.Stream(ctx, topic, window)
	if err != nil {
		t.Fatalf("stream %s: %v", topic, err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	return st
}

// Numbered returns n messages whose payloads are "0".."n-1".
func Numbered(n int) []*message.Message {
	out := make([]*message.Message, n)
	for i := range out {
		out[i] = herald.NewMessage([]byte(strconv.Itoa(i)))
	}
	return out
}

func number(t *testing.T, d adapters.Delivery) int {
	t.Helper()
	n, err := strconv.Atoi(string(d.Msg.Payload))
	if err != nil {
		t.Fatalf("payload %q is not a number", d.Msg.Payload)
	}
	return n
}

// ReceiveN receives n deliveries within wait, without settling them.
func ReceiveN(t *testing.T, st adapters.Stream, n int, wait time.Duration) []adapters.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var got []adapters.Delivery
	buf := make([]adapters.Delivery, 16)
	for len(got) < n {
		k, err := st.Receive(ctx, buf[:min(len(buf), n-len(got))])
		if err != nil {
			t.Fatalf("received %d of %d deliveries: %v", len(got), n, err)
		}
		got = append(got, buf[:k]...)
	}
	return got
}

// NoDelivery fails if st hands out a delivery within d.
func NoDelivery(t *testing.T, st adapters.Stream, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	buf := make([]adapters.Delivery, 4)
	n, err := st.Receive(ctx, buf)
	if n > 0 {
		t.Fatalf("unexpected delivery %q", buf[0].Msg.Payload)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Receive: %v, want the context's deadline", err)
	}
}

// StreamWindow checks that a stream hands out a full window before any
// settlement and no more, that settlements out of order acknowledge only
// what was settled, and that Close returns the unsettled deliveries (and
// those taken but not handed out) for redelivery at once.
func StreamWindow(t *testing.T, f Fixture) {
	const window, extra = 64, 16
	topic := f.Topic(t)
	subA := f.Subscriber(t, "g")
	defer subA.Close()
	a := openStream(t, subA, topic, window)
	pub := f.Publisher(t)
	defer pub.Close()
	if err := pub.Publish(topic, Numbered(window+extra)...); err != nil {
		t.Fatal(err)
	}
	got := ReceiveN(t, a, window, 20*time.Second)
	NoDelivery(t, a, 200*time.Millisecond) // the window is full
	seen := map[int]bool{}
	for _, d := range got {
		seen[number(t, d)] = true
	}
	if len(seen) != window {
		t.Fatalf("%d distinct messages in the window, want %d", len(seen), window)
	}
	// Settle all but the first, from the last back.
	for i := len(got) - 1; i >= 1; i-- {
		a.Ack(got[i])
	}
	a.Ack(got[1]) // a second settlement does nothing
	// B joins the group, A closes: B gets the first and what A had not
	// handed out, nothing that was acked.
	subB := f.Subscriber(t, "g")
	defer subB.Close()
	b := openStream(t, subB, topic, window)
	if err := a.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}
	a.Ack(got[0]) // after Close: does nothing
	want := map[int]bool{number(t, got[0]): true}
	for i := 0; i < window+extra; i++ {
		if !seen[i] {
			want[i] = true
		}
	}
	again := ReceiveN(t, b, len(want), 20*time.Second)
	for _, d := range again {
		n := number(t, d)
		if !want[n] {
			t.Errorf("message %d redelivered after it was acked", n)
		}
		delete(want, n)
		b.Ack(d)
	}
	if len(want) > 0 {
		t.Errorf("messages %v not redelivered", want)
	}
	NoDelivery(t, b, 300*time.Millisecond)
	if _, err := a.Receive(context.Background(), make([]adapters.Delivery, 1)); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Receive after Close: %v, want ErrClosed", err)
	}
}

// StreamNack checks Nack with a delay (not redelivered before it, then
// redelivered, with the delivery count where the backend keeps one),
// and Key.
func StreamNack(t *testing.T, f Fixture) {
	topic := f.Topic(t)
	sub := f.Subscriber(t, "g")
	defer sub.Close()
	st := openStream(t, sub, topic, 8)
	pub := f.Publisher(t)
	defer pub.Close()
	m := herald.NewMessage([]byte("0"))
	herald.SetKey(m, "customer-7")
	if err := pub.Publish(topic, m); err != nil {
		t.Fatal(err)
	}
	d := ReceiveN(t, st, 1, 20*time.Second)[0]
	if d.Key != "customer-7" {
		t.Errorf("Key %q, want customer-7", d.Key)
	}
	if d.Msg.UUID != m.UUID {
		t.Errorf("UUID %q, want %q", d.Msg.UUID, m.UUID)
	}
	if f.CountsAttempts && d.Attempt != 1 {
		t.Errorf("first Attempt %d, want 1", d.Attempt)
	}
	const delay = 700 * time.Millisecond
	nacked := time.Now()
	st.Nack(d, delay)
	st.Nack(d, 0) // settled already: nothing
	NoDelivery(t, st, delay/2)
	d2 := ReceiveN(t, st, 1, 20*time.Second)[0]
	if since := time.Since(nacked); since < delay-50*time.Millisecond {
		t.Errorf("redelivered %v after the nack, want %v or later", since, delay)
	}
	if d2.Msg.UUID != m.UUID {
		t.Errorf("redelivered %q, want %q", d2.Msg.UUID, m.UUID)
	}
	if f.CountsAttempts && d2.Attempt != 2 {
		t.Errorf("second Attempt %d, want 2", d2.Attempt)
	}
	st.Ack(d2)
	NoDelivery(t, st, 300*time.Millisecond)
}

// PublishAsyncAll checks that PublishAsync calls done exactly once per
// message, with nil, and that every message arrives.
func PublishAsyncAll(t *testing.T, f Fixture) {
	const n = 500
	topic := f.Topic(t)
	sub := f.Subscriber(t, "g")
	defer sub.Close()
	st := openStream(t, sub, topic, 64)
	pub := f.Publisher(t)
	defer pub.Close()
	ap, ok := pub.(adapters.AsyncPublisher)
	if !ok {
		t.Fatalf("%T does not implement adapters.AsyncPublisher", pub)
	}
	var (
		mu    sync.Mutex
		calls = make([]int, n)
		errs  []error
		wg    sync.WaitGroup
	)
	wg.Add(n)
	for i, m := range Numbered(n) {
		err := ap.PublishAsync(context.Background(), topic, m, func(err error) {
			mu.Lock()
			calls[i]++
			if err != nil {
				errs = append(errs, err)
			}
			mu.Unlock()
			wg.Done()
		})
		if err != nil {
			t.Fatalf("PublishAsync %d: %v", i, err)
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("done not called for every message")
	}
	mu.Lock()
	for i, c := range calls {
		if c != 1 {
			t.Errorf("done called %d times for message %d", c, i)
		}
	}
	if len(errs) > 0 {
		t.Errorf("done errors: %v", errs)
	}
	mu.Unlock()
	seen := map[int]bool{}
	for len(seen) < n {
		for _, d := range ReceiveN(t, st, 1, 20*time.Second) {
			seen[number(t, d)] = true
			st.Ack(d)
		}
	}
	if err := ap.PublishAsync(context.Background(), "", herald.NewMessage(nil), func(error) { t.Error("done called for a message not taken") }); err == nil {
		t.Error("PublishAsync to an empty topic: nil error")
	}
	_ = pub.Close()
	err := ap.PublishAsync(context.Background(), topic, herald.NewMessage(nil), func(error) { t.Error("done called after Close") })
	if !errors.Is(err, herald.ErrClosed) {
		t.Errorf("PublishAsync after Close: %v, want ErrClosed", err)
	}
}

// PublishAsyncTooLarge checks an error per message: of three messages,
// the middle one over the broker's limit fails in its done, the others
// are stored.
func PublishAsyncTooLarge(t *testing.T, f Fixture, limit int) {
	topic := f.Topic(t)
	pub := f.Publisher(t)
	defer pub.Close()
	ap := pub.(adapters.AsyncPublisher)
	msgs := Numbered(3)
	msgs[1].Payload = []byte(strings.Repeat("x", limit+1))
	results := make(chan string, 3)
	for i, m := range msgs {
		err := ap.PublishAsync(context.Background(), topic, m, func(err error) {
			results <- fmt.Sprintf("%d:%v", i, err)
		})
		if err != nil {
			t.Fatalf("PublishAsync %d: %v", i, err)
		}
	}
	got := map[byte]string{}
	for range 3 {
		select {
		case r := <-results:
			got[r[0]] = r
		case <-time.After(30 * time.Second):
			t.Fatalf("done calls: %v", got)
		}
	}
	if got['0'] != "0:<nil>" || got['2'] != "2:<nil>" {
		t.Errorf("the messages within the limit: %q, %q", got['0'], got['2'])
	}
	if !strings.Contains(got['1'], topic) || strings.HasSuffix(got['1'], "<nil>") {
		t.Errorf("the message over the limit: %q, want an error naming the topic", got['1'])
	}
}
