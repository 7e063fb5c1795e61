package subscriber_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/subscriber"
	"github.com/heraldkit/herald/wmbridge"
)

// Messages published at once come in full batches of BatchSize; the
// rest waits BatchWait after it arrived, not much longer.
func TestBatchSizeAndWait(t *testing.T) {
	eachBatchBackend(t, func(t *testing.T, target string) {
		topic, group := uniqName("bsize"), uniqName("g")
		const wait = 3 * time.Second
		h := newHandled()
		startBatch(t, target, group, topic, func(_ context.Context, b *herald.Batch) error {
			h.record(b)
			return nil
		}, []subscriber.BatchOption{subscriber.BatchSize(10), subscriber.BatchWait(wait)})
		pub := openBatchPub(t, target)
		var payloads []string
		for i := range 25 {
			payloads = append(payloads, fmt.Sprint(i))
		}
		start := time.Now()
		// One key: publish order holds on every backend (one Kafka partition).
		if err := pub.Publish(context.Background(), topic, payloadMsgs("k", payloads...)...); err != nil {
			t.Fatal(err)
		}
		bs := h.wait(t, "25 messages", func(bs [][]seen) bool { return total(bs) >= 25 })
		_, at := h.snapshot()
		var sizes []int
		var got []string
		for _, b := range bs {
			sizes = append(sizes, len(b))
			for _, s := range b {
				got = append(got, s.payload)
			}
		}
		if !slices.Equal(sizes, []int{10, 10, 5}) {
			t.Fatalf("batch sizes %v, want [10 10 5]", sizes)
		}
		if !slices.Equal(got, payloads) {
			t.Errorf("handled %v, want publish order %v", got, payloads)
		}
		if d := at[1].Sub(start); d >= wait {
			t.Errorf("the full batches came %v after the publish: they waited for BatchWait (%v)", d, wait)
		}
		if d := at[2].Sub(start); d < wait || d > wait+10*time.Second {
			t.Errorf("the partial batch came %v after the publish, want BatchWait (%v) after its first message arrived", d, wait)
		}
	})
}

// Each message settles as its result says: an ack is not redelivered, a
// retry is redelivered once with Attempt 2, a dead-letter is parked by
// BatchDeadLetter in DeadLetter's format and acked.
func TestBatchResultsSettle(t *testing.T) {
	eachBatchBackend(t, func(t *testing.T, target string) {
		topic, group := uniqName("bres"), uniqName("g")
		dlq := topic + ".dlq"
		pub := openBatchPub(t, target)
		dead := make(chan *herald.Message, 4)
		startSingle(t, target, uniqName("dlq"), dlq, func(_ context.Context, m *herald.Message) error {
			dead <- m
			return nil
		})
		h := newHandled()
		var mu sync.Mutex
		retried := false
		sub := startBatch(t, target, group, topic, func(_ context.Context, b *herald.Batch) error {
			h.record(b)
			mu.Lock()
			defer mu.Unlock()
			for i, m := range b.Messages {
				switch p := string(m.Payload); {
				case p == "retry" && !retried:
					retried = true
					b.Retry(i, herald.RetryAfter(errors.New("not yet"), 50*time.Millisecond))
				case p == "dead":
					b.DeadLetter(i, herald.Permanent(errors.New("cannot decode")))
				}
			}
			return nil
		}, []subscriber.BatchOption{subscriber.BatchSize(4), subscriber.BatchWait(time.Second),
			subscriber.BatchMiddleware(middleware.BatchDeadLetter(pub, "{topic}.dlq"))})
		msgs := payloadMsgs("", "ack0", "retry", "dead", "ack3")
		if err := pub.Publish(context.Background(), topic, msgs...); err != nil {
			t.Fatal(err)
		}
		bs := h.wait(t, "the retry redelivered", func(bs [][]seen) bool { return total(bs) >= 5 })
		if len(bs) == 2 {
			// Keyless: Kafka may spread them over partitions, in any order.
			rank := map[string]int{"ack0": 0, "retry": 1, "dead": 2, "ack3": 3}
			slices.SortFunc(bs[0], func(a, b seen) int { return rank[a.payload] - rank[b.payload] })
		}
		if got := fmt.Sprint(bs); got != fmt.Sprintf("[[{ack0 %s 1} {retry %s 1} {dead %s 1} {ack3 %s 1}] [{retry %s 2}]]",
			msgs[0].UUID, msgs[1].UUID, msgs[2].UUID, msgs[3].UUID, msgs[1].UUID) {
			t.Fatalf("handled %s, want the batch then the retry alone with attempt 2", got)
		}
		select {
		case m := <-dead:
			want := map[string]string{
				middleware.DLQOriginalIDHeader: msgs[2].UUID,
				middleware.DLQTopicHeader:      topic,
				middleware.DLQGroupHeader:      group,
				middleware.DLQReasonHeader:     middleware.DLQReasonPermanent,
				middleware.DLQAttemptsHeader:   "1",
				middleware.DLQErrorHeader:      "cannot decode",
			}
			for k, v := range want {
				if got := m.Metadata.Get(k); got != v {
					t.Errorf("dead-lettered copy: %s = %q, want %q", k, got, v)
				}
			}
			if string(m.Payload) != "dead" || m.UUID == msgs[2].UUID {
				t.Errorf("dead-lettered copy: payload %q id %s, want the payload under a new ID", m.Payload, m.UUID)
			}
		case <-time.After(batchWait):
			t.Fatal("nothing dead-lettered")
		}
		sub.close(t)
		onlySentinel(t, target, group, topic, pub)
	})
}

// A panic in the batch handler retries the whole batch (never a crash):
// every message comes again with Attempt 2.
func TestBatchPanicRetriesAll(t *testing.T) {
	eachBatchBackend(t, func(t *testing.T, target string) {
		topic, group := uniqName("bpanic"), uniqName("g")
		h := newHandled()
		var once sync.Once
		hook := make(chan error, 4)
		startBatch(t, target, group, topic, func(_ context.Context, b *herald.Batch) error {
			h.record(b)
			once.Do(func() { panic("boom") })
			return nil
		}, []subscriber.BatchOption{subscriber.BatchSize(3), subscriber.BatchWait(time.Second)},
			subscriber.WithErrorHook(func(err error) { hook <- err }), subscriber.WithLogger(slog.New(slog.DiscardHandler)))
		pub := openBatchPub(t, target)
		if err := pub.Publish(context.Background(), topic, payloadMsgs("", "a", "b", "c")...); err != nil {
			t.Fatal(err)
		}
		bs := h.wait(t, "the batch twice", func(bs [][]seen) bool { return total(bs) >= 6 })
		attempts := map[string][]int{}
		for _, b := range bs {
			for _, s := range b {
				attempts[s.payload] = append(attempts[s.payload], s.attempt)
			}
		}
		for _, p := range []string{"a", "b", "c"} {
			if !slices.Equal(attempts[p], []int{1, 2}) {
				t.Errorf("%s: attempts %v, want [1 2]", p, attempts[p])
			}
		}
		select {
		case err := <-hook:
			var pe *herald.PanicError
			if !errors.As(err, &pe) {
				t.Errorf("error hook got %v, want a *herald.PanicError", err)
			}
		case <-time.After(batchWait):
			t.Fatal("the panic was not reported")
		}
	})
}

// Close with a batch in flight waits for it and settles its results: the
// acked messages are not redelivered, the retried one is.
func TestBatchDrainSettles(t *testing.T) {
	eachBatchBackend(t, func(t *testing.T, target string) {
		topic, group := uniqName("bdrain"), uniqName("g")
		started := make(chan struct{})
		release := make(chan struct{})
		sub := startBatch(t, target, group, topic, func(_ context.Context, b *herald.Batch) error {
			close(started)
			<-release
			for i, m := range b.Messages {
				if string(m.Payload) == "again" {
					b.Retry(i, errors.New("later"))
				}
			}
			return nil
		}, []subscriber.BatchOption{subscriber.BatchSize(3), subscriber.BatchWait(time.Second)})
		pub := openBatchPub(t, target)
		if err := pub.Publish(context.Background(), topic, payloadMsgs("", "x", "y", "again")...); err != nil {
			t.Fatal(err)
		}
		select {
		case <-started:
		case <-time.After(batchWait):
			t.Fatal("no batch")
		}
		closed := make(chan struct{})
		go func() { sub.close(t); close(closed) }()
		select {
		case <-closed:
			t.Fatal("Close returned with a batch in flight")
		case <-time.After(200 * time.Millisecond):
		}
		close(release)
		select {
		case <-closed:
		case <-time.After(batchWait):
			t.Fatal("Close did not return after the batch finished")
		}
		got := make(chan string, 8)
		startSingle(t, target, group, topic, func(_ context.Context, m *herald.Message) error {
			got <- string(m.Payload)
			return nil
		})
		if err := pub.Publish(context.Background(), topic, herald.NewMessage([]byte("sentinel"))); err != nil {
			t.Fatal(err)
		}
		var seenAgain, seenSentinel bool
		for !seenAgain || !seenSentinel {
			select {
			case p := <-got:
				switch p {
				case "again":
					seenAgain = true
				case "sentinel":
					seenSentinel = true
				default:
					t.Errorf("acked in the drained batch, redelivered: %q", p)
				}
			case <-time.After(batchWait):
				t.Fatalf("after the drain: retried message seen %v, sentinel seen %v", seenAgain, seenSentinel)
			}
		}
	})
}

// Where the subscriber redelivers itself (Kafka, mem: RedeliverLocal)
// and keys keep their order, a failed message in the middle of a batch
// is handled again before the later messages of its key, which are
// retried with it (never acked past it); another key's messages are not
// held. After a restart the group resumes at the first failure.
func TestBatchKeyOrderAcrossRetry(t *testing.T) {
	eachBatchBackend(t, func(t *testing.T, target string) {
		if !localKeyOrder(t, target) {
			t.Skip("the backend redelivers through the broker: order across a retry is not promised (docs/guarantees.md)")
		}
		topic, group := uniqName("bkey"), uniqName("g")
		h := newHandled()
		var mu sync.Mutex
		failed := false
		startBatch(t, target, group, topic, func(_ context.Context, b *herald.Batch) error {
			h.record(b)
			mu.Lock()
			defer mu.Unlock()
			for i, m := range b.Messages {
				if string(m.Payload) == "K2" && !failed {
					failed = true
					b.Retry(i, herald.RetryAfter(errors.New("once"), 20*time.Millisecond))
				}
			}
			return nil
		}, []subscriber.BatchOption{subscriber.BatchSize(10), subscriber.BatchWait(time.Second)})
		pub := openBatchPub(t, target)
		msgs := payloadMsgs("K", "K0", "K1", "K2", "K3", "K4")
		if err := pub.Publish(context.Background(), topic, msgs...); err != nil {
			t.Fatal(err)
		}
		bs := h.wait(t, "K2..K4 again", func(bs [][]seen) bool { return total(bs) >= 8 })
		var order []string
		for _, b := range bs {
			var s []string
			for _, m := range b {
				s = append(s, fmt.Sprintf("%s@%d", m.payload, m.attempt))
			}
			order = append(order, strings.Join(s, " "))
		}
		want := []string{"K0@1 K1@1 K2@1 K3@1 K4@1", "K2@2 K3@2 K4@2"}
		if !slices.Equal(order, want) {
			t.Fatalf("batches %q, want %q", order, want)
		}
	})
}

// On a RedeliverLocal backend a message held for its retry holds its
// partition's commit: a subscriber that takes over after a Close resumes
// at the first failure (K1) and gets the later messages of the key (K2
// was handled and acked by the batch handler but never committed past
// K1), never K0.
func TestBatchResumeAtFirstFailure(t *testing.T) {
	eachBatchBackend(t, func(t *testing.T, target string) {
		if !localKeyOrder(t, target) {
			t.Skip("the backend redelivers through the broker")
		}
		topic, group := uniqName("bresume"), uniqName("g")
		h := newHandled()
		sub := startBatch(t, target, group, topic, func(_ context.Context, b *herald.Batch) error {
			h.record(b)
			for i, m := range b.Messages {
				if string(m.Payload) == "K1" {
					b.Retry(i, herald.RetryAfter(errors.New("much later"), time.Hour))
				}
			}
			return nil
		}, []subscriber.BatchOption{subscriber.BatchSize(3), subscriber.BatchWait(time.Second)})
		pub := openBatchPub(t, target)
		if err := pub.Publish(context.Background(), topic, payloadMsgs("K", "K0", "K1", "K2")...); err != nil {
			t.Fatal(err)
		}
		h.wait(t, "the batch", func(bs [][]seen) bool { return total(bs) >= 3 })
		sub.close(t)
		got := make(chan string, 8)
		startSingle(t, target, group, topic, func(_ context.Context, m *herald.Message) error {
			got <- string(m.Payload)
			return nil
		})
		var order []string
		for len(order) < 2 {
			select {
			case p := <-got:
				order = append(order, p)
			case <-time.After(batchWait):
				t.Fatalf("after the restart: got %v, want K1 K2", order)
			}
		}
		if !slices.Equal(order, []string{"K1", "K2"}) {
			t.Fatalf("after the restart: got %v, want K1 K2 (resumed at the first failure)", order)
		}
	})
}

// localKeyOrder reports whether the subscriber redelivers itself on
// target's backend (Kafka, mem), keeping a key's order across a retry.
func localKeyOrder(t *testing.T, target string) bool {
	t.Helper()
	sub, err := subscriber.Open(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	return sub.Capabilities().Redelivery == adapters.RedeliverLocal
}

// Per-message middleware cannot run on a batch: SubscribeBatch refuses a
// subscriber that has some, with a configuration error naming the backend.
func TestBatchRefusesPerMessageMiddleware(t *testing.T) {
	sub, err := subscriber.Open(context.Background(), "mem://"+uniqName("brefuse"), subscriber.WithMiddleware(middleware.Recover()))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	err = sub.SubscribeBatch(context.Background(), "t", func(context.Context, *herald.Batch) error { return nil })
	if !errors.Is(err, herald.ErrInvalidConfig) || !strings.Contains(err.Error(), "herald/mem") || !strings.Contains(err.Error(), "BatchMiddleware") {
		t.Fatalf("SubscribeBatch with per-message middleware: %v, want a configuration error naming mem and BatchMiddleware", err)
	}
	err = sub.SubscribeBatch(context.Background(), "t", func(context.Context, *herald.Batch) error { return nil }, subscriber.BatchSize(0))
	if !errors.Is(err, herald.ErrInvalidConfig) {
		t.Fatalf("BatchSize(0): %v, want a configuration error", err)
	}
}

// WithConcurrency(4) runs batches in parallel, but a key's messages go
// to one lane: each key is handled in publish order and never in two
// batches at once.
func TestBatchConcurrentLanesKeepKeyOrder(t *testing.T) {
	eachBatchBackend(t, func(t *testing.T, target string) {
		topic, group := uniqName("blanes"), uniqName("g")
		const keys, per = 6, 30
		var mu sync.Mutex
		got := map[string][]string{}
		busy := map[string]bool{}
		overlap := ""
		running, peak := 0, 0
		n := 0
		done := make(chan struct{})
		startBatch(t, target, group, topic, func(_ context.Context, b *herald.Batch) error {
			mu.Lock()
			running++
			peak = max(peak, running)
			for _, m := range b.Messages {
				k := herald.Key(m)
				if busy[k] && overlap == "" {
					overlap = k
				}
			}
			for _, m := range b.Messages {
				busy[herald.Key(m)] = true
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond) // let the other lanes run beside this one
			mu.Lock()
			defer mu.Unlock()
			running--
			for _, m := range b.Messages {
				k := herald.Key(m)
				busy[k] = false
				got[k] = append(got[k], string(m.Payload))
				if n++; n == keys*per {
					close(done)
				}
			}
			return nil
		}, []subscriber.BatchOption{subscriber.BatchSize(8), subscriber.BatchWait(20 * time.Millisecond)},
			subscriber.WithConcurrency(4))
		pub := openBatchPub(t, target)
		var msgs []*herald.Message
		for i := range per {
			for k := range keys {
				m := herald.NewMessage([]byte(fmt.Sprint(i)))
				herald.SetKey(m, fmt.Sprint("key-", k))
				msgs = append(msgs, m)
			}
		}
		if err := pub.Publish(context.Background(), topic, msgs...); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(batchWait):
			t.Fatal("not all handled")
		}
		mu.Lock()
		defer mu.Unlock()
		if overlap != "" {
			t.Errorf("key %s was in two batches at once", overlap)
		}
		for k, ps := range got {
			for i, p := range ps {
				if p != fmt.Sprint(i) {
					t.Fatalf("%s handled in order %v, want 0..%d", k, ps, per-1)
				}
			}
		}
		t.Logf("at most %d batches at once", peak)
	})
}

var registerWMBatch sync.Once

// A batch the backend cannot hand out at once is refused, naming the
// backend: a Watermill subscriber bridged in holds one message
// (Capabilities.MaxWindow 1).
func TestBatchRefusesSizeAboveMaxWindow(t *testing.T) {
	registerWMBatch.Do(func() {
		wmbridge.Register("wmbatch", wmbridge.Backend{
			NewSubscriber: func(context.Context, herald.Config, watermill.LoggerAdapter) (message.Subscriber, error) {
				return gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{}), nil
			},
		})
	})
	sub, err := subscriber.Open(context.Background(), "wmbatch://local")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	err = sub.SubscribeBatch(context.Background(), "t", func(context.Context, *herald.Batch) error { return nil }, subscriber.BatchSize(2))
	if !errors.Is(err, herald.ErrInvalidConfig) || !strings.Contains(err.Error(), "wmbatch") || !strings.Contains(err.Error(), "1 to 1") {
		t.Fatalf("BatchSize(2) on a backend with MaxWindow 1: %v, want a configuration error naming wmbatch and allowing 1 to 1", err)
	}
}

// A message the handler dead-letters with no BatchDeadLetter to park it
// is kept, never dropped: the error hook hears of it (naming the
// middleware to add) and it comes again after the permanent error's
// delay (1 s), with Attempt 2.
func TestBatchDeadLetterUnparkedIsKept(t *testing.T) {
	target := "mem://" + uniqName("bunparked")
	h := newHandled()
	hook := make(chan error, 4)
	startBatch(t, target, "g", "t", func(_ context.Context, b *herald.Batch) error {
		h.record(b)
		if d, _ := herald.DeliveryFromContext(b.Messages[0].Context()); d.Attempt == 1 {
			b.DeadLetter(0, errors.New("undecodable"))
		}
		return nil
	}, []subscriber.BatchOption{subscriber.BatchSize(1)}, subscriber.WithErrorHook(func(err error) { hook <- err }))
	pub := openBatchPub(t, target)
	start := time.Now()
	if err := pub.Publish(context.Background(), "t", herald.NewMessage([]byte("m"))); err != nil {
		t.Fatal(err)
	}
	bs := h.wait(t, "the redelivery", func(bs [][]seen) bool { return total(bs) >= 2 })
	if bs[1][0].attempt != 2 || time.Since(start) < time.Second {
		t.Errorf("redelivered with attempt %d after %v, want 2 after at least 1 s", bs[1][0].attempt, time.Since(start))
	}
	select {
	case err := <-hook:
		if !strings.Contains(err.Error(), "undecodable") || !strings.Contains(err.Error(), "middleware.BatchDeadLetter") {
			t.Errorf("error hook: %v, want the handler's error and the advice to add middleware.BatchDeadLetter", err)
		}
	default:
		t.Error("the error hook did not hear of the unparked message")
	}
}

// Retry(i, herald.RetryAfter(err, d)) redelivers message i after d, not
// sooner, on every backend (JetStream: NakWithDelay; RabbitMQ: held,
// then nacked; Kafka, mem: held by the subscriber).
func TestBatchRetryDelayHonoured(t *testing.T) {
	eachBatchBackend(t, func(t *testing.T, target string) {
		topic, group := uniqName("bdelay"), uniqName("g")
		const delay = 700 * time.Millisecond
		h := newHandled()
		startBatch(t, target, group, topic, func(_ context.Context, b *herald.Batch) error {
			h.record(b)
			if d, _ := herald.DeliveryFromContext(b.Messages[0].Context()); d.Attempt == 1 {
				b.Retry(0, herald.RetryAfter(errors.New("later"), delay))
			}
			return nil
		}, []subscriber.BatchOption{subscriber.BatchSize(1), subscriber.BatchWait(0)})
		pub := openBatchPub(t, target)
		if err := pub.Publish(context.Background(), topic, herald.NewMessage([]byte("m"))); err != nil {
			t.Fatal(err)
		}
		bs := h.wait(t, "the redelivery", func(bs [][]seen) bool { return total(bs) >= 2 })
		_, at := h.snapshot()
		if gap := at[1].Sub(at[0]); gap < delay || gap > delay+10*time.Second || bs[1][0].attempt != 2 {
			t.Errorf("redelivered after %v with attempt %d, want %v (not sooner) and attempt 2", gap, bs[1][0].attempt, delay)
		}
	})
}
