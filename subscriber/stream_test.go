package subscriber_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/subscriber"
)

// streamFake is a backend with the windowed stream path: deliveries sent
// on in reach Receive; settlements are recorded per message ID.
type streamFake struct {
	fake
	in     chan adapters.Delivery
	opened atomic.Int32
	fail   chan error // an error here breaks the current stream's Receive

	smu     sync.Mutex
	acked   map[string]int
	nacked  map[string]int
	closed  int
	settled chan string
}

func newStreamFake() *streamFake {
	return &streamFake{in: make(chan adapters.Delivery), fail: make(chan error, 1),
		acked: map[string]int{}, nacked: map[string]int{}, settled: make(chan string, 10000)}
}

func (f *streamFake) Stream(ctx context.Context, topic string, window int) (adapters.Stream, error) {
	f.opened.Add(1)
	return &fakeStream{f: f}, nil
}

type fakeStream struct {
	f      *streamFake
	closed atomic.Bool
}

func (s *fakeStream) Receive(ctx context.Context, buf []adapters.Delivery) (int, error) {
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case err := <-s.f.fail:
		return 0, err
	case d := <-s.f.in:
		buf[0] = d
		return 1, nil
	}
}

func (s *fakeStream) settle(d adapters.Delivery, m map[string]int) {
	if s.closed.Load() {
		return
	}
	s.f.smu.Lock()
	m[d.Msg.UUID]++
	s.f.smu.Unlock()
	s.f.settled <- d.Msg.UUID
}

func (s *fakeStream) Ack(d adapters.Delivery)                   { s.settle(d, s.f.acked) }
func (s *fakeStream) Nack(d adapters.Delivery, _ time.Duration) { s.settle(d, s.f.nacked) }
func (s *fakeStream) Close(context.Context) error {
	s.closed.Store(true)
	s.f.smu.Lock()
	s.f.closed++
	s.f.smu.Unlock()
	return nil
}

func (f *streamFake) deliver(t *testing.T, key, payload string) *message.Message {
	t.Helper()
	m := herald.NewMessage([]byte(payload))
	select {
	case f.in <- adapters.Delivery{Msg: m, Key: key}:
	case <-time.After(5 * time.Second):
		t.Fatal("the subscriber did not receive")
	}
	return m
}

func openStreamFake(t *testing.T, f *streamFake, opts ...subscriber.Option) (*subscriber.Subscriber, func()) {
	t.Helper()
	name := "s" + time.Now().Format("150405.000000000")
	fakesMu.Lock()
	streamFakes[name] = f
	fakesMu.Unlock()
	ready := make(chan string, 1)
	opts = append(opts, subscriber.WithReady(func(s string) { ready <- s }), subscriber.WithLogger(slog.New(slog.DiscardHandler)))
	sub, err := subscriber.Open(context.Background(), "stream-test://"+name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return sub, func() { <-ready }
}

var streamFakes = map[string]*streamFake{}

type streamAdapter struct{}

func (streamAdapter) Publisher(context.Context, herald.Config) (message.Publisher, error) {
	return nil, herald.ErrClosed
}

func (streamAdapter) Subscriber(_ context.Context, cfg herald.Config) (message.Subscriber, error) {
	fakesMu.Lock()
	defer fakesMu.Unlock()
	return streamFakes[cfg.Hosts[0]], nil
}

func init() { adapters.Register("stream-test", streamAdapter{}) }

// With concurrency 8 on the stream path, deliveries of one key run one at
// a time in order, and different keys run in parallel.
func TestStreamOrdersPerKeyAndRunsKeysInParallel(t *testing.T) {
	f := newStreamFake()
	sub, ready := openStreamFake(t, f, subscriber.WithConcurrency(8))
	defer sub.Close()
	const keys, perKey = 16, 40
	var mu sync.Mutex
	seen := map[string][]int{}
	var inKey sync.Map // key -> *atomic.Int32 running now
	var running, peak atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sub.Subscribe(ctx, "t", func(_ context.Context, m *herald.Message) error {
		var k string
		var i int
		fmt.Sscanf(string(m.Payload), "%s %d", &k, &i)
		c, _ := inKey.LoadOrStore(k, new(atomic.Int32))
		if c.(*atomic.Int32).Add(1) > 1 {
			t.Errorf("two handlers of key %s at once", k)
		}
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(200 * time.Microsecond) // simulated work, lets keys overlap
		running.Add(-1)
		c.(*atomic.Int32).Add(-1)
		mu.Lock()
		seen[k] = append(seen[k], i)
		mu.Unlock()
		return nil
	})
	ready()
	for i := 0; i < perKey; i++ {
		for k := 0; k < keys; k++ {
			key := fmt.Sprintf("k%02d", k)
			f.deliver(t, key, fmt.Sprintf("%s %d", key, i))
		}
	}
	for i := 0; i < keys*perKey; i++ {
		select {
		case <-f.settled:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d settled", i, keys*perKey)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for k, got := range seen {
		for i, v := range got {
			if v != i {
				t.Fatalf("key %s handled out of order: %v", k, got)
			}
		}
	}
	if peak.Load() < 2 {
		t.Errorf("at most %d handler ran at once with concurrency 8 and 16 keys", peak.Load())
	}
}

// A handler's return value settles the delivery on its stream; a broken
// stream is reported and opened again; Close closes the stream.
func TestStreamSettlesAndReopens(t *testing.T) {
	f := newStreamFake()
	hooked := make(chan error, 4)
	sub, ready := openStreamFake(t, f, subscriber.WithErrorHook(func(err error) { hooked <- err }))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sub.Subscribe(ctx, "t", func(_ context.Context, m *herald.Message) error {
		if string(m.Payload) == "bad" {
			m.Ack() // ignored: the return value settles
			return errors.New("failed")
		}
		return nil
	})
	ready()
	good := f.deliver(t, "", "good")
	bad := f.deliver(t, "", "bad")
	<-f.settled
	<-f.settled
	f.smu.Lock()
	if f.acked[good.UUID] != 1 || f.nacked[bad.UUID] != 1 || f.acked[bad.UUID] != 0 {
		t.Errorf("acked %v nacked %v; want good acked, bad nacked", f.acked, f.nacked)
	}
	f.smu.Unlock()

	f.fail <- errors.New("channel closed by the broker")
	if err := <-hooked; !errors.Is(err, herald.ErrSubscriptionLost) {
		t.Fatalf("hook got %v; want ErrSubscriptionLost", err)
	}
	again := f.deliver(t, "", "after the break")
	<-f.settled
	if n := f.opened.Load(); n != 2 {
		t.Errorf("stream opened %d times; want 2", n)
	}
	f.smu.Lock()
	if f.acked[again.UUID] != 1 {
		t.Error("a delivery of the reopened stream was not acked")
	}
	f.smu.Unlock()
	if err := sub.Health(); err != nil {
		t.Errorf("Health after the stream was reopened = %v", err)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	f.smu.Lock()
	defer f.smu.Unlock()
	if f.closed != 2 {
		t.Errorf("%d streams closed; want 2 (the broken one and the last)", f.closed)
	}
}
