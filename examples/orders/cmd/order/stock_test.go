package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/examples/internal/appdb"
	"github.com/heraldkit/herald/examples/orders/internal/shop"
	"github.com/heraldkit/herald/examples/orders/internal/stock"
	"github.com/heraldkit/herald/request"
	"github.com/heraldkit/herald/subscriber"
)

// TestCheckStock runs the order service with -check-stock on mem://, with
// an inventory service in the test process: orders in stock are
// committed, those out of stock refused; with no inventory service, or
// one slower than -stock-timeout, no order is accepted, each says why,
// and run fails naming the reason (the process exits 1).
func TestCheckStock(t *testing.T) {
	cases := []struct {
		name      string
		inventory bool
		work      time.Duration
		lines     []string // of stdout, in order, with <p> for the order ID prefix
		committed []string
		err       string // run's, "" for nil
	}{
		{"reply", true, 0, []string{
			"order: <p>0001: 2 x sku-a in stock (100 available)",
			"order: refused <p>0002: sku-c out of stock (0 available, 3 wanted)",
			"order: <p>0003: 1 x sku-a in stock (100 available)",
			"order: refused <p>0004: sku-c out of stock (0 available, 2 wanted)",
			"order: committed 2 orders, relayed 2 events",
			"order: stock checks: 2 in stock, 2 refused (out of stock), 0 not accepted (no answer)",
		}, []string{"<p>0001", "<p>0003"}, ""},
		{"no responder", false, 0, []string{
			"order: not accepted <p>0001 (2 x sku-a): no inventory service is running (nobody subscribes to <topic>): start cmd/inventory",
			"order: not accepted <p>0002 (3 x sku-c): no inventory service is running (nobody subscribes to <topic>): start cmd/inventory",
			"order: committed 0 orders, relayed 0 events",
			"order: stock checks: 0 in stock, 0 refused (out of stock), 2 not accepted (no answer)",
		}, nil, "2 of 2 orders not accepted: no inventory service is running (nobody subscribes to <topic>): start cmd/inventory"},
		{"timeout", true, 2 * time.Second, []string{
			"order: not accepted <p>0001 (2 x sku-a): the inventory service did not answer within 200ms (not running, or too slow: see cmd/inventory -work)",
			"order: not accepted <p>0002 (3 x sku-c): the inventory service did not answer within 200ms (not running, or too slow: see cmd/inventory -work)",
			"order: committed 0 orders, relayed 0 events",
			"order: stock checks: 0 in stock, 0 refused (out of stock), 2 not accepted (no answer)",
		}, nil, "2 of 2 orders not accepted: the inventory service did not answer within 200ms (not running, or too slow: see cmd/inventory -work)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			target := "mem://order-stock-" + herald.NewID()
			topic := stock.Topic + "." + herald.NewID()
			if tc.inventory {
				startInventory(t, ctx, target, topic, tc.work)
			}
			dbFile := filepath.Join(t.TempDir(), "shop.db")
			prefix := "o-" + strings.ToLower(herald.NewID()[20:]) + "-"
			n := "4"
			if !tc.inventory || tc.work > 0 {
				n = "2"
			}
			var out, errOut bytes.Buffer
			err := run(ctx, []string{"-target", target, "-db", dbFile, "-n", n, "-rate", "0", "-prefix", prefix,
				"-check-stock", "-stock-topic", topic, "-stock-timeout", "200ms", "-skus", "sku-a,sku-c"}, &out, &errOut)
			fill := func(s string) string {
				return strings.NewReplacer("<p>", prefix, "<topic>", topic).Replace(s)
			}
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || err.Error() != fill(tc.err)) {
				t.Errorf("run = %v, want %q", err, fill(tc.err))
			}
			var want []string
			for _, l := range tc.lines {
				want = append(want, fill(l))
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				if !strings.HasPrefix(l, "order: committed "+prefix) { // the commit lines carry message IDs
					got = append(got, l)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("stdout:\n%s\nwant (besides the commit lines):\n%s\nstderr:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), errOut.String())
			}
			db, err := appdb.Open(ctx, dbFile, "")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ids, err := shop.OrderIDs(ctx, db, shop.TablesWith("shop_"))
			if err != nil {
				t.Fatal(err)
			}
			var wantIDs []string
			for _, id := range tc.committed {
				wantIDs = append(wantIDs, fill(id))
			}
			slices.Sort(ids)
			if !slices.Equal(ids, wantIDs) {
				t.Errorf("orders in the database: %v, want %v", ids, wantIDs)
			}
		})
	}
}

// startInventory runs an inventory service (sku-a 100, sku-c 0) on
// target's topic in the test process until the test ends.
func startInventory(t *testing.T, ctx context.Context, target, topic string, work time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
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
		done <- stock.Serve(ctx, sub, c, topic, stock.NewLevels(map[string]int{"sku-a": 100, "sku-c": 0}), work, nil)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("inventory: %v", err)
		}
		sub.Close()
		c.Close()
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("inventory: %v", err)
	}
}
