package stock

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/request"
	"github.com/heraldkit/herald/subscriber"
)

// targets are the backends the stock query is tested on, in process: mem
// (a request nobody subscribes to fails at once) and the embedded broker
// (JetStream: it waits for its deadline).
func targets(t *testing.T) map[string]string {
	return map[string]string{"mem": "mem://stock-" + herald.NewID(), "embedded": "embedded://" + t.TempDir()}
}

// serve starts an inventory service on target's topic, answering after
// work, until the test ends.
func serve(t *testing.T, target, topic string, work time.Duration) *request.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := request.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{}, 1)
	sub, err := subscriber.Open(ctx, target, subscriber.WithGroup("inventory"), subscriber.WithReady(func(string) { ready <- struct{}{} }))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, sub, c, topic, NewLevels(map[string]int{"sku-a": 5, "sku-c": 0}), work, nil)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Serve: %v", err)
		}
		sub.Close()
		c.Close()
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the inventory service is not subscribed after 20s")
	}
	return c
}

// client opens the order service's request client.
func client(t *testing.T, target string) *request.Client {
	t.Helper()
	c, err := request.Open(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A query is answered with the stock (in stock, out of stock), an unknown
// SKU with the inventory service's error.
func TestCheckReply(t *testing.T) {
	for name, target := range targets(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			topic := Topic + "." + herald.NewID()
			inv := serve(t, target, topic, 0)
			c := client(t, target)
			a, err := Check(ctx, c, topic, Query{SKU: "sku-a", Qty: 3}, 5*time.Second)
			if err != nil || a != (Answer{SKU: "sku-a", Available: 5, InStock: true}) {
				t.Errorf("sku-a x 3 = %+v, %v; want 5 available, in stock", a, err)
			}
			a, err = Check(ctx, c, topic, Query{SKU: "sku-a", Qty: 6}, 5*time.Second)
			if err != nil || a.InStock || a.Available != 5 {
				t.Errorf("sku-a x 6 = %+v, %v; want 5 available, not in stock", a, err)
			}
			a, err = Check(ctx, c, topic, Query{SKU: "sku-c", Qty: 1}, 5*time.Second)
			if err != nil || a.InStock || a.Available != 0 {
				t.Errorf("sku-c x 1 = %+v, %v; want 0 available, not in stock", a, err)
			}
			_, err = Check(ctx, c, topic, Query{SKU: "sku-z", Qty: 1}, 5*time.Second)
			if !errors.Is(err, request.ErrRemote) {
				t.Fatalf("unknown SKU: %v, want a *request.RemoteError", err)
			}
			if got, want := Explain(err, topic, time.Second), `the inventory service refused the query: unknown SKU "sku-z"`; got != want {
				t.Errorf("Explain = %q, want %q", got, want)
			}
			if n := inv.Dropped(); n != 0 {
				t.Errorf("inventory dropped %d queries, want 0", n)
			}
		})
	}
}

// An inventory service slower than the query's timeout: the query fails
// with request.ErrTimeout after the timeout, and the service drops it
// (its deadline passed) instead of answering.
func TestCheckTimeout(t *testing.T) {
	for name, target := range targets(t) {
		t.Run(name, func(t *testing.T) {
			const timeout = 300 * time.Millisecond
			topic := Topic + "." + herald.NewID()
			inv := serve(t, target, topic, 2*time.Second)
			c := client(t, target)
			start := time.Now()
			_, err := Check(context.Background(), c, topic, Query{SKU: "sku-a", Qty: 1}, timeout)
			took := time.Since(start)
			if !errors.Is(err, request.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("slow inventory: %v, want request.ErrTimeout", err)
			}
			if took < timeout || took > timeout+2*time.Second {
				t.Errorf("timed out after %v, want about %v", took, timeout)
			}
			if got := Explain(err, topic, timeout); !strings.HasPrefix(got, "the inventory service did not answer within 300ms") {
				t.Errorf("Explain = %q", got)
			}
			deadline := time.Now().Add(10 * time.Second)
			for inv.Dropped() != 1 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond) // Dropped is a counter: polled
			}
			if n := inv.Dropped(); n != 1 {
				t.Errorf("inventory dropped %d queries, want 1 (the timed-out one)", n)
			}
		})
	}
}

// No inventory service: on mem the query fails at once with
// request.ErrNoResponder; on the embedded broker (JetStream stores the
// request) it waits for its deadline: request.ErrTimeout. Explain says
// which.
func TestCheckNoResponder(t *testing.T) {
	for name, target := range targets(t) {
		t.Run(name, func(t *testing.T) {
			const timeout = 500 * time.Millisecond
			topic := Topic + "." + herald.NewID()
			c := client(t, target)
			start := time.Now()
			_, err := Check(context.Background(), c, topic, Query{SKU: "sku-a", Qty: 1}, timeout)
			took := time.Since(start)
			got := Explain(err, topic, timeout)
			switch name {
			case "mem":
				if !errors.Is(err, request.ErrNoResponder) || took >= timeout {
					t.Fatalf("no responder on mem: %v after %v, want request.ErrNoResponder at once", err, took)
				}
				if want := "no inventory service is running (nobody subscribes to " + topic + "): start cmd/inventory"; got != want {
					t.Errorf("Explain = %q, want %q", got, want)
				}
			default:
				if !errors.Is(err, request.ErrTimeout) || took < timeout {
					t.Fatalf("no responder on %s: %v after %v, want request.ErrTimeout after %v", name, err, took, timeout)
				}
				if !strings.HasPrefix(got, "the inventory service did not answer within 500ms (not running") {
					t.Errorf("Explain = %q", got)
				}
			}
		})
	}
}
