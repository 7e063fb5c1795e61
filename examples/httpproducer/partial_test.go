package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/heraldtest"
	"github.com/heraldkit/herald/publisher"
)

// TestBulkPartial: in a bulk request only the orders that failed are tried
// again; one that fails once is accepted on its second try, one the broker
// refuses is not retried, one whose broker stays unreachable ends
// "unavailable"; the answer is 207 with Retry-After. A single refused order
// is a 500 at once.
func TestBulkPartial(t *testing.T) {
	cfg := testConfig(t)
	cfg.Retry = retryPolicy{Attempts: 3, AttemptTimeout: time.Second, Backoff: time.Millisecond, MaxBackoff: time.Millisecond}
	var flakyTries, refusedTries, downTries, batchSizes atomic.Int64
	broker := func(next herald.PublishFunc) herald.PublishFunc { // fails orders by key
		return func(ctx context.Context, topic string, msgs ...*herald.Message) error {
			if topic != cfg.Topic {
				return next(ctx, topic, msgs...)
			}
			batchSizes.Add(int64(len(msgs)))
			errs := make([]error, len(msgs))
			var pass []*herald.Message
			for i, m := range msgs {
				switch herald.Key(m) {
				case "flaky":
					if flakyTries.Add(1) == 1 {
						errs[i] = fmt.Errorf("test: %w", herald.ErrUnreachable)
					}
				case "refused":
					refusedTries.Add(1)
					errs[i] = errors.New("test: permission denied")
				case "down":
					downTries.Add(1)
					errs[i] = fmt.Errorf("test: %w", herald.ErrUnreachable)
				}
				if errs[i] == nil {
					pass = append(pass, m)
				}
			}
			if len(pass) > 0 {
				if err := next(ctx, topic, pass...); err != nil {
					return err
				}
			}
			if len(msgs) == 1 {
				return errs[0]
			}
			if errors.Join(errs...) == nil {
				return nil
			}
			return &herald.BatchError{Errs: errs}
		}
	}
	h := heraldtest.New(t)
	svc := start(t, cfg, h.URL(), publisher.WithMiddleware(broker))

	body := "[" + strings.Join([]string{orderJSON("ok-1"), orderJSON("flaky"), orderJSON("refused"), orderJSON("down")}, ",") + "]"
	code, retryAfter, out := post(t, svc.url+"/orders/bulk", body)
	if code != http.StatusMultiStatus || retryAfter == "" {
		t.Fatalf("POST /orders/bulk = %d Retry-After %q %v, want 207 with Retry-After", code, retryAfter, out)
	}
	want := []string{"accepted", "accepted", "failed", "unavailable"}
	for i, r := range out["results"].([]any) {
		if st := r.(map[string]any)["status"]; st != want[i] {
			t.Errorf("order %d: status %v, want %s", i, st, want[i])
		}
	}
	if out["accepted"] != 2.0 || out["failed"] != 1.0 || out["unavailable"] != 1.0 {
		t.Errorf("counts %v", out)
	}
	// Tries: all 4, then flaky and down, then down: 7 messages in 3 batches.
	if f, r, d, n := flakyTries.Load(), refusedTries.Load(), downTries.Load(), batchSizes.Load(); f != 2 || r != 1 || d != 3 || n != 7 {
		t.Errorf("tries: flaky %d, refused %d, down %d, messages %d; want 2, 1, 3, 7", f, r, d, n)
	}
	// What reached the backend: the accepted orders, each once.
	var stored []string
	for _, m := range h.Published(cfg.Topic) {
		stored = append(stored, herald.Key(m))
	}
	if !slices.Equal(stored, []string{"ok-1", "flaky"}) {
		t.Errorf("stored orders %v, want [ok-1 flaky]", stored)
	}
	if code, _, out := post(t, svc.url+"/orders", orderJSON("refused")); code != http.StatusInternalServerError || refusedTries.Load() != 2 {
		t.Errorf("refused order: %d %v after %d tries, want 500 after 1", code, out, refusedTries.Load()-1)
	}
}
