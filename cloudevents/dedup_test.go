package cloudevents_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/cloudevents"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// TestSameIDOtherSourceNotDuplicate: CloudEvents identifies an event by
// source and id together ("Producers MUST ensure that source + id is
// unique for each distinct event"), so two producers may both send id "1"
// (per-source sequence numbers are common). A written message's Herald ID
// is the event ID alone, so middleware.Deduplicate (and any inbox keyed
// on the message ID) takes the second producer's event for a duplicate of
// the first and acks it unhandled, and on JetStream (embedded, nats) the
// server drops it as a duplicate publish (Nats-Msg-Id "<id> <subject>"):
// an event is lost. The test sends id "1" from two sources and a marker,
// through mem with Deduplicate and through embedded without, and wants
// both id-"1" events handled.
func TestSameIDOtherSourceNotDuplicate(t *testing.T) {
	for target, mw := range map[string]herald.Middleware{
		"mem://ce-dedup":            middleware.Deduplicate(),
		"embedded://" + t.TempDir(): func(h herald.Handler) herald.Handler { return h },
	} {
		t.Run(target[:strings.Index(target, ":")], func(t *testing.T) { sameIDOtherSource(t, target, mw) })
	}
}

func sameIDOtherSource(t *testing.T, target string, mw herald.Middleware) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const topic = "ce.dedup"
	sub, err := subscriber.Open(ctx, target, subscriber.WithGroup("g"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := sub.Prepare(ctx, topic); err != nil {
		t.Fatal(err)
	}
	pub, err := publisher.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	for _, ev := range []cloudevents.Event{
		{ID: "1", Source: "/sensors/a", Type: "reading"},
		{ID: "1", Source: "/sensors/b", Type: "reading"},
		{ID: "marker", Source: "/sensors/a", Type: "marker"},
	} {
		if err := cloudevents.Publish(ctx, pub, topic, "one-key", ev); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var seen []string
	marker := make(chan struct{})
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	h := mw(cloudevents.Handler(func(_ context.Context, ev cloudevents.Event, _ *herald.Message) error {
		if ev.Type == "marker" {
			close(marker)
			return nil
		}
		mu.Lock()
		seen = append(seen, ev.Source)
		mu.Unlock()
		return nil
	}))
	go func() { _ = sub.Subscribe(sctx, topic, h) }()
	select {
	case <-marker:
	case <-ctx.Done():
		t.Fatal("marker not received")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Errorf("handled id-1 events from %q; want both /sensors/a and /sensors/b", seen)
	}
}
