package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
)

func TestOrders(t *testing.T) {
	targets := map[string]string{
		"mem":      "mem://orders-example",
		"embedded": "embedded://" + t.TempDir(),
	}
	// The brokers too, when scripts/brokers.sh runs them (not under -short;
	// a missing broker fails under HERALD_REQUIRE_BROKERS=1).
	for name, env := range map[string]string{"kafka": "HERALD_TEST_KAFKA", "amqp": "HERALD_TEST_AMQP", "nats": "HERALD_TEST_NATS"} {
		if testing.Short() {
			break
		}
		if u := os.Getenv(env); u != "" {
			targets[name] = u
		} else if os.Getenv("HERALD_REQUIRE_BROKERS") == "1" {
			t.Errorf("%s is not set and HERALD_REQUIRE_BROKERS=1", env)
		}
	}
	for name, target := range targets {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(context.Background(), target, &out, slog.New(slog.DiscardHandler)); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{
				"payments: charged order-1 25.50 (attempt 1)",
				"payments: charged order-3 99.00 (attempt 3)",
				"payments: charged order-4 7.25 (attempt 1)",
				"operations: dead letter order-2 after 1 attempt(s): order order-2: amount -5.00 is not positive",
				"all orders settled",
			} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}
