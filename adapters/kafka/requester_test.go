package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/request"
	"github.com/heraldkit/herald/subscriber"
)

// TestRequesterReplyTopic: a requester creates one reply topic at open
// (a valid name with ReplyTopicPrefix), 32 concurrent requests all come
// back on it, and Close deletes it.
func TestRequesterReplyTopic(t *testing.T) {
	target := brokerURL(t)
	adm := kadmClient(t, target)
	ctx := context.Background()
	cfg, err := herald.ParseURL(target)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Driver{}.OpenRequester(ctx, cfg, adapters.Env{})
	if err != nil {
		t.Fatal(err)
	}
	name := ReplyTopic(r)
	if !strings.HasPrefix(name, ReplyTopicPrefix) || validTopic(name) != nil || strings.ContainsAny(name, "._") {
		t.Fatalf("reply topic %q: want a valid name %s<id> without '.' or '_'", name, ReplyTopicPrefix)
	}
	topics, err := adm.ListTopics(ctx, name)
	if err != nil || !topics.Has(name) {
		t.Fatalf("reply topic %q not found after open (%v)", name, err)
	}

	// A Herald responder echoes every request.
	topic := uniqueName("reqtopic")
	rc, err := request.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, target, subscriber.WithGroup(uniqueName("responder")), subscriber.WithConcurrency(8),
		subscriber.WithReady(func(s string) { ready <- s }))
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- sub.Subscribe(sctx, topic, request.Responder(rc, func(_ context.Context, n int) (int, error) { return n * 10, nil }))
	}()
	defer func() { cancel(); <-done; _ = sub.Close() }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("responder not ready")
	}

	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, _ := herald.NewJSONMessage(i)
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			rep, err := r.Request(rctx, topic, m)
			if err != nil {
				errs <- fmt.Errorf("request %d: %w", i, err)
				return
			}
			var got int
			if err := json.Unmarshal(rep.Payload, &got); err != nil || got != i*10 {
				errs <- fmt.Errorf("request %d got %q (%v); want %d", i, rep.Payload, err, i*10)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		topics, err := adm.ListTopics(ctx, name)
		if err == nil && !topics.Has(name) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reply topic %q still listed 30s after Close (%v)", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReplyRefusesOtherTopics: a responder replies only to reply topics
// (ReplyTopicPrefix): a request cannot make it write to an application's
// topic.
func TestReplyRefusesOtherTopics(t *testing.T) {
	target := brokerURL(t)
	cfg, err := herald.ParseURL(target)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Driver{}.OpenRequester(context.Background(), cfg, adapters.Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	err = r.Reply(context.Background(), adapters.ReplyAddress{To: "orders", Correlation: "x"}, herald.NewMessage(nil))
	kindIs := herald.KindOf(err) == herald.KindInvalid
	if !kindIs {
		t.Fatalf("Reply to %q: %v; want KindInvalid", "orders", err)
	}
}
