package natsxtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// StreamWindow checks that a stream hands out a full window before any
// settlement and no more, that settlements out of order acknowledge only
// what was settled, and that Close returns the unsettled deliveries (and
// those delivered but not handed out) for redelivery at once.
func StreamWindow(t *testing.T, f Fixture) {
	const window, extra = 64, 16
	topic := f.Topic(t)
	subA := f.OpenSubscription(t, "g", "")
	a := OpenStream(t, subA, topic, window, nil)
	MustPublish(t, f.OpenTopic(t, ""), topic, Numbered(window+extra)...)
	got := ReceiveN(t, a, window, 20*time.Second)
	NoDelivery(t, a, 200*time.Millisecond) // the window is full
	seen := map[int]bool{}
	for _, d := range got {
		seen[Number(t, d)] = true
	}
	if len(seen) != window {
		t.Fatalf("%d distinct messages in the window, want %d", len(seen), window)
	}
	// Settle all but the first, from the last back.
	for i := len(got) - 1; i >= 1; i-- {
		a.Ack(got[i].Token)
	}
	a.Ack(got[1].Token) // a second settlement does nothing
	// B joins the group, A closes: B gets the first and what A had not
	// handed out, nothing that was acked.
	b := OpenStream(t, f.OpenSubscription(t, "g", ""), topic, window, nil)
	closed := time.Now()
	if err := a.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}
	a.Ack(got[0].Token) // after Close: does nothing
	want := map[int]bool{Number(t, got[0]): true}
	for i := range window + extra {
		if !seen[i] {
			want[i] = true
		}
	}
	again := ReceiveN(t, b, len(want), 20*time.Second)
	if took := time.Since(closed); took > 5*time.Second {
		t.Errorf("the unsettled deliveries came back %v after Close: not returned at once", took)
	}
	for _, d := range again {
		n := Number(t, d)
		if !want[n] {
			t.Errorf("message %d redelivered after it was acked", n)
		}
		delete(want, n)
		b.Ack(d.Token)
	}
	if len(want) > 0 {
		t.Errorf("messages %v not redelivered", want)
	}
	NoDelivery(t, b, 300*time.Millisecond)
	if _, err := a.Receive(context.Background(), make([]adapters.Received, 1)); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Receive after Close: %v, want ErrClosed", err)
	}
}

// StreamNack checks that Nack's delay is honoured by the server (not
// redelivered before it, then redelivered: issue 14 item 10, the delay
// is the caller's), the delivery count, Key and the ID.
func StreamNack(t *testing.T, f Fixture) {
	topic := f.Topic(t)
	st := OpenStream(t, f.OpenSubscription(t, "g", ""), topic, 8, nil)
	m := herald.NewMessage([]byte("0"))
	herald.SetKey(m, "customer-7")
	MustPublish(t, f.OpenTopic(t, ""), topic, m)
	d := ReceiveN(t, st, 1, 20*time.Second)[0]
	if d.Key != "customer-7" {
		t.Errorf("Key %q, want customer-7", d.Key)
	}
	if d.Msg.UUID != m.UUID {
		t.Errorf("UUID %q, want %q", d.Msg.UUID, m.UUID)
	}
	if d.Attempt != 1 {
		t.Errorf("first Attempt %d, want 1", d.Attempt)
	}
	const delay = 1500 * time.Millisecond
	nacked := time.Now()
	st.Nack(d.Token, delay)
	st.Nack(d.Token, 0) // settled already: nothing
	d2 := ReceiveN(t, st, 1, 20*time.Second)[0]
	if since := time.Since(nacked); since < delay-50*time.Millisecond {
		t.Errorf("redelivered %v after a nack with a delay of %v", since, delay)
	}
	if d2.Msg.UUID != m.UUID {
		t.Errorf("redelivered %q, want %q", d2.Msg.UUID, m.UUID)
	}
	if d2.Attempt != 2 {
		t.Errorf("second Attempt %d, want 2", d2.Attempt)
	}
	// Without a delay the redelivery is at once.
	nacked = time.Now()
	st.Nack(d2.Token, 0)
	d3 := ReceiveN(t, st, 1, 20*time.Second)[0]
	if since := time.Since(nacked); since > delay {
		t.Errorf("redelivered %v after a nack without delay", since)
	}
	if d3.Attempt != 3 {
		t.Errorf("third Attempt %d, want 3", d3.Attempt)
	}
	st.Ack(d3.Token)
	NoDelivery(t, st, 300*time.Millisecond)
}

// SlowHandlersNoDuplicates is issue 14 item 5 at the driver level: with
// a window of 2, ack_wait=1s and one handler at a time taking 600ms,
// every message is handled once. The deliveries handed out and waiting
// for the handler are kept alive, and nothing is fetched ahead of the
// window (before the fix, messages waiting in nats.go's pull buffer were
// redelivered: 7 of 10 handled twice).
func SlowHandlersNoDuplicates(t *testing.T, f Fixture) {
	const n, handler = 10, 600 * time.Millisecond
	topic := f.Topic(t)
	st := OpenStream(t, f.OpenSubscription(t, "slow", "ack_wait=1s"), topic, 2, nil)
	MustPublish(t, f.OpenTopic(t, ""), topic, Numbered(n)...)
	handled := map[string]int{}
	var redelivered []int
	buf := make([]adapters.Received, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for total := 0; len(handled) < n; {
		k, err := st.Receive(ctx, buf)
		if err != nil {
			t.Fatalf("after %d deliveries: %v", total, err)
		}
		for _, d := range buf[:k] { // concurrency 1: one after the other
			total++
			if !st.Valid(d.Token) {
				t.Errorf("delivery of %q not valid before its handler", d.Msg.Payload)
			}
			time.Sleep(handler)
			handled[d.Msg.UUID]++
			if d.Attempt != 1 {
				redelivered = append(redelivered, Number(t, d))
			}
			st.Ack(d.Token)
		}
	}
	NoDelivery(t, st, 2500*time.Millisecond) // past ack_wait: nothing comes back
	twice := 0
	for _, c := range handled {
		if c > 1 {
			twice++
		}
	}
	if twice > 0 || len(redelivered) > 0 {
		t.Errorf("%d of %d messages handled twice; redelivered: %v", twice, n, redelivered)
	}
}

// Valid checks that a delivery is valid while the stream holds it, and
// not once settled or after Close.
func Valid(t *testing.T, f Fixture) {
	topic := f.Topic(t)
	st := OpenStream(t, f.OpenSubscription(t, "valid", ""), topic, 4, nil)
	MustPublish(t, f.OpenTopic(t, ""), topic, Numbered(2)...)
	got := ReceiveN(t, st, 2, 20*time.Second)
	for _, d := range got {
		if !st.Valid(d.Token) {
			t.Errorf("delivery %q not valid while held", d.Msg.Payload)
		}
	}
	st.Ack(got[0].Token)
	if st.Valid(got[0].Token) {
		t.Error("delivery valid after its ack")
	}
	if st.Valid(adapters.Token{}) {
		t.Error("the zero token is valid")
	}
	if err := st.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st.Valid(got[1].Token) {
		t.Error("delivery valid after Close")
	}
}

// SendAll checks that done is called exactly once per message, with nil,
// that every message arrives, that an invalid topic is refused by Send
// (done not called), and Send after Close fails with ErrClosed.
func SendAll(t *testing.T, f Fixture) {
	const n = 500
	topic := f.Topic(t)
	st := OpenStream(t, f.OpenSubscription(t, "g", ""), topic, 64, nil)
	tp := f.OpenTopic(t, "")
	var (
		mu    sync.Mutex
		calls = make([]int, n)
		errs  []error
		wg    sync.WaitGroup
	)
	wg.Add(n)
	for i, m := range Numbered(n) {
		err := tp.Send(context.Background(), topic, m, adapters.SendOptions{}, func(err error) {
			mu.Lock()
			calls[i]++
			if err != nil {
				errs = append(errs, err)
			}
			mu.Unlock()
			wg.Done()
		})
		if err != nil {
			t.Fatalf("Send %d: %v", i, err)
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
			seen[Number(t, d)] = true
			st.Ack(d.Token)
		}
	}
	err := tp.Send(context.Background(), "", herald.NewMessage(nil), adapters.SendOptions{}, func(error) { t.Error("done called for a message not taken") })
	if !errors.Is(err, herald.ErrInvalid) {
		t.Errorf("Send to an empty topic: %v, want ErrInvalid", err)
	}
	_ = tp.Close(context.Background())
	err = tp.Send(context.Background(), topic, herald.NewMessage(nil), adapters.SendOptions{}, func(error) { t.Error("done called after Close") })
	if !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
}

// SendTooLarge checks an error per message: of three messages, the
// middle one over limit (the broker's) fails with ErrTooLarge, in Send
// or in its done; the others are stored.
func SendTooLarge(t *testing.T, f Fixture, limit int) {
	topic := f.Topic(t)
	tp := f.OpenTopic(t, "")
	msgs := Numbered(3)
	msgs[1].Payload = []byte(strings.Repeat("x", limit+1))
	results := make(chan string, 3)
	for i, m := range msgs {
		err := tp.Send(context.Background(), topic, m, adapters.SendOptions{}, func(err error) {
			results <- fmt.Sprintf("%d:%v", i, err)
		})
		if err != nil {
			if i != 1 || !errors.Is(err, herald.ErrTooLarge) {
				t.Fatalf("Send %d: %v", i, err)
			}
			results <- fmt.Sprintf("%d:%v", i, err)
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

// PrivateConsumer checks that the streams of a subscription without a
// group share one consumer per topic, get only what is published after
// Open, and that Close deletes it.
func PrivateConsumer(t *testing.T, f Fixture) {
	tp := f.OpenTopic(t, "")
	var js jetstream.JetStream
	if !tp.As(&js) {
		t.Fatal("As(*jetstream.JetStream) failed")
	}
	topic := f.Topic(t)
	MustPublish(t, tp, topic, herald.NewMessage([]byte("before")))
	sub := f.OpenSubscription(t, "", "")
	if err := sub.Prepare(context.Background(), topic); err != nil {
		t.Fatalf("Prepare without a group: %v", err)
	}
	a := OpenStream(t, sub, topic, 8, nil)
	b := OpenStream(t, sub, topic, 8, nil)
	count := func() int {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		name, err := js.StreamNameBySubject(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for range s.ConsumerNames(ctx).Name() {
			n++
		}
		return n
	}
	if n := count(); n != 1 {
		t.Fatalf("%d consumers for two streams of one private subscription, want 1", n)
	}
	MustPublish(t, tp, topic, Numbered(4)...)
	got := 0
	for _, st := range []adapters.Stream{a, b} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		buf := make([]adapters.Received, 8)
		for {
			k, err := st.Receive(ctx, buf)
			if err != nil {
				break
			}
			for _, d := range buf[:k] {
				if string(d.Msg.Payload) == "before" {
					t.Error("a private consumer got a message published before Open")
				}
				st.Ack(d.Token)
			}
			got += k
		}
		cancel()
	}
	if got != 4 {
		t.Errorf("the two streams got %d messages, want the 4 published (shared, once each)", got)
	}
	if err := sub.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d consumers left after Close, want 0", n)
	}
}

// Prepare checks that a group's Prepare makes the group keep what is
// published before its first Open.
func Prepare(t *testing.T, f Fixture) {
	topic := f.Topic(t)
	sub := f.OpenSubscription(t, "prepared", "")
	if err := sub.Prepare(context.Background(), topic); err != nil {
		t.Fatal(err)
	}
	MustPublish(t, f.OpenTopic(t, ""), topic, herald.NewMessage([]byte("kept")))
	st := OpenStream(t, sub, topic, 4, nil)
	d := ReceiveN(t, st, 1, 20*time.Second)[0]
	if string(d.Msg.Payload) != "kept" {
		t.Errorf("got %q", d.Msg.Payload)
	}
	st.Ack(d.Token)
}

// AfterClose checks that every method called after Close fails with
// ErrClosed, naming the backend, the operation and the topic.
func AfterClose(t *testing.T, f Fixture, scheme string) {
	topic := f.Topic(t)
	tp := f.OpenTopic(t, "")
	sub := f.OpenSubscription(t, "g", "")
	_ = tp.Close(context.Background())
	_ = sub.Close(context.Background())
	check := func(what string, err error, op string) {
		t.Helper()
		if !errors.Is(err, herald.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", what, err)
			return
		}
		var he *herald.Error
		if !errors.As(err, &he) || he.Backend != scheme || he.Topic != topic {
			t.Errorf("%s after Close: %#v, want a *herald.Error of %s on %q", what, err, scheme, topic)
		}
		if want := "herald/" + scheme + ": " + op + ` "` + topic + `"`; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s after Close: %q, want it to start with %q", what, err, want)
		}
	}
	check("Send", tp.Send(context.Background(), topic, herald.NewMessage(nil), adapters.SendOptions{}, func(error) { t.Error("done called") }), "publish to")
	_, err := sub.Open(context.Background(), topic, adapters.StreamOptions{Window: 1, Status: func(error) {}})
	check("Open", err, "subscribe to")
	check("Prepare", sub.Prepare(context.Background(), topic), "prepare")
	if err := tp.Close(context.Background()); err != nil {
		t.Errorf("second Close of the topic: %v", err)
	}
	if err := sub.Close(context.Background()); err != nil {
		t.Errorf("second Close of the subscription: %v", err)
	}
}

// SendLeavesMessage checks that Send does not change the message.
func SendLeavesMessage(t *testing.T, f Fixture) {
	tp := f.OpenTopic(t, "")
	m := herald.NewMessage([]byte("x"))
	m.Metadata.Set("a", "b")
	before := m.Context()
	if err := Publish(context.Background(), tp, f.Topic(t), m); err != nil {
		t.Fatal(err)
	}
	if m.Context() != before || len(m.Metadata) != 1 || m.Metadata.Get("a") != "b" {
		t.Errorf("Send changed the message: metadata %v", m.Metadata)
	}
}
