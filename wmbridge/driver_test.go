package wmbridge_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/wmbridge"
)

// gatedPublisher is a Watermill publisher whose Publish calls wait for
// the test to open the gate; it records what each call carried.
type gatedPublisher struct {
	gate    chan struct{}
	entered chan struct{}
	mu      sync.Mutex
	calls   []string
}

func (p *gatedPublisher) Publish(topic string, msgs ...*message.Message) error {
	p.entered <- struct{}{}
	<-p.gate
	ids := topic + ":"
	for _, m := range msgs {
		ids += m.UUID
	}
	p.mu.Lock()
	p.calls = append(p.calls, ids)
	p.mu.Unlock()
	return nil
}

func (p *gatedPublisher) Close() error { return nil }

func gatedTopic(t *testing.T) (adapters.Topic, *gatedPublisher) {
	t.Helper()
	gp := &gatedPublisher{gate: make(chan struct{}), entered: make(chan struct{}, 16)}
	d := wmbridge.NewDriver(wmbridge.Backend{
		Name: "gated",
		NewPublisher: func(context.Context, herald.Config, watermill.LoggerAdapter) (message.Publisher, error) {
			return gp, nil
		},
	})
	top, err := d.OpenTopic(context.Background(), herald.Config{Scheme: "gated"}, adapters.Env{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return top, gp
}

type answer struct {
	id  string
	err error
}

func send(t *testing.T, top adapters.Topic, ctx context.Context, topic, id string, answers chan<- answer) {
	t.Helper()
	if err := top.Send(ctx, topic, message.NewMessage(id, nil), adapters.SendOptions{}, func(err error) { answers <- answer{id, err} }); err != nil {
		t.Fatal(err)
	}
}

// A message whose deadline passes while the Watermill Publish carrying it
// runs is answered herald.ErrOutcomeUnknown (the broker may have it); one
// still queued behind it is answered herald.ErrUnreachable (never
// written). Each done is called once.
func TestTopicDeadlineOutcome(t *testing.T) {
	top, gp := gatedTopic(t)
	answers := make(chan answer, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	send(t, top, ctx, "a", "written", answers)
	<-gp.entered
	send(t, top, ctx, "a", "queued", answers)
	got := map[string]error{}
	for range 2 {
		a := <-answers
		got[a.id] = a.err
	}
	if !errors.Is(got["written"], herald.ErrOutcomeUnknown) {
		t.Errorf("in-flight message: %v, want herald.ErrOutcomeUnknown", got["written"])
	}
	if !errors.Is(got["queued"], herald.ErrUnreachable) {
		t.Errorf("queued message: %v, want herald.ErrUnreachable", got["queued"])
	}
	close(gp.gate)
	if err := top.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-answers:
		t.Fatalf("done called twice: %v", a)
	default:
	}
}

// Messages queued while a Publish runs go out in send order, those to one
// topic together in one Publish call.
func TestTopicOrderAndBatches(t *testing.T) {
	top, gp := gatedTopic(t)
	answers := make(chan answer, 16)
	ctx := context.Background()
	send(t, top, ctx, "a", "0", answers)
	<-gp.entered
	for i := 1; i <= 5; i++ {
		send(t, top, ctx, "a", fmt.Sprint(i), answers)
	}
	send(t, top, ctx, "b", "6", answers)
	close(gp.gate)
	for range 7 {
		if a := <-answers; a.err != nil {
			t.Fatalf("%s: %v", a.id, a.err)
		}
	}
	if err := top.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(gp.calls); got != "[a:0 a:12345 b:6]" {
		t.Fatalf("Publish calls %s, want [a:0 a:12345 b:6]", got)
	}
	if err := top.Send(ctx, "a", message.NewMessage("late", nil), adapters.SendOptions{}, func(error) {}); !errors.Is(err, herald.ErrClosed) {
		t.Fatalf("Send after Close: %v, want herald.ErrClosed", err)
	}
}

// Validate refuses the options the Backend does not list, naming the key
// and what is allowed.
func TestDriverValidate(t *testing.T) {
	d := wmbridge.NewDriver(wmbridge.Backend{Name: "v", Options: []string{"acks", "client_id"}})
	ok := herald.Config{Scheme: "v", Options: herald.Options{"acks": "all"}}
	if err := d.Validate(ok); err != nil {
		t.Fatal(err)
	}
	bad := herald.Config{Scheme: "v", Options: herald.Options{"akcs": "all"}}
	var ce *herald.ConfigError
	if err := d.Validate(bad); !errors.As(err, &ce) || ce.Key != "akcs" || ce.Allowed != "acks, client_id" {
		t.Fatalf("Validate: %v, want a ConfigError for akcs allowing acks, client_id", err)
	}
	if c := d.Capabilities(ok); c != wmbridge.Conservative() {
		t.Fatalf("no Capabilities declared: %+v, want Conservative()", c)
	}
}

// breakable is a Watermill subscriber (on a GoChannel) whose channels the
// test can close, as a subscriber that lost its connection would.
type breakable struct {
	g  message.Subscriber
	mu sync.Mutex
	fn []func()
}

func (b *breakable) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	ictx, cancel := context.WithCancel(ctx)
	in, err := b.g.Subscribe(ictx, topic)
	if err != nil {
		cancel()
		return nil, err
	}
	out := make(chan *message.Message)
	broken := make(chan struct{})
	var once sync.Once
	b.mu.Lock()
	b.fn = append(b.fn, func() { once.Do(func() { close(broken) }) })
	b.mu.Unlock()
	go func() {
		defer close(out)
		defer cancel()
		for {
			select {
			case m, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- m:
				case <-broken:
					return
				}
			case <-broken:
				return
			}
		}
	}()
	return out, nil
}

func (b *breakable) breakAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, f := range b.fn {
		f()
	}
}

func (b *breakable) Close() error { return nil }

// A stream whose Watermill channel closes on its own is broken: the
// Subscriber opens another and the same Watermill channel goes on.
func TestBrokenStreamReopened(t *testing.T) {
	br := &breakable{g: goChannel(herald.Config{Hosts: []string{"wmbridge-broken"}})}
	d := wmbridge.NewDriver(wmbridge.Backend{
		Name: "breakable",
		NewPublisher: func(_ context.Context, cfg herald.Config, _ watermill.LoggerAdapter) (message.Publisher, error) {
			return shared{goChannel(herald.Config{Hosts: []string{"wmbridge-broken"}})}, nil
		},
		NewSubscriber: func(context.Context, herald.Config, watermill.LoggerAdapter) (message.Subscriber, error) {
			return br, nil
		},
	})
	ctx := context.Background()
	cfg := herald.Config{Scheme: "breakable"}
	pub, err := wmbridge.NewPublisher(ctx, d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := wmbridge.NewSubscriber(ctx, d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	topic := uniqueTopic()
	msgs, err := sub.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	br.breakAll()
	// Publish until the reopened stream gets one: GoChannel drops what is
	// published while no subscription exists.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		if err := pub.Publish(topic, message.NewMessage(fmt.Sprint(i), nil)); err != nil {
			t.Fatal(err)
		}
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatal("the Watermill channel closed with the broken stream")
			}
			m.Ack()
			return
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no message after the stream broke: it was not reopened")
		}
	}
}
