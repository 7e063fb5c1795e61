package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/heraldkit/herald/adapters/adaptertest"
)

// The README's first command: with no target the quickstart runs on
// HERALD_URL (here an embedded broker in a temporary directory, standing
// in for the default one); the same code runs on each real broker.
func TestQuickstart(t *testing.T) {
	t.Setenv("HERALD_URL", "embedded://"+t.TempDir())
	for _, c := range []struct{ name, env string }{
		{"embedded (HERALD_URL)", ""},
		{"kafka", "HERALD_TEST_KAFKA"},
		{"amqp", "HERALD_TEST_AMQP"},
		{"nats", "HERALD_TEST_NATS"},
	} {
		t.Run(c.name, func(t *testing.T) {
			target := ""
			if c.env != "" {
				target = adaptertest.BrokerURL(t, c.env) // skips under -short
			}
			var out bytes.Buffer
			if err := run(context.Background(), target, &out); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			got := out.String()
			if n := strings.Count(got, "received "); n != 3 {
				t.Errorf("%d receipts, want 3:\n%s", n, got)
			}
			for _, id := range []string{"order-1001", "order-1002", "order-1003"} {
				if !strings.Contains(got, ": "+id+" amount=") {
					t.Errorf("output lacks %s:\n%s", id, got)
				}
			}
			if !strings.Contains(got, "all orders received") {
				t.Errorf("output lacks the end:\n%s", got)
			}
			if c.env == "" && !strings.Contains(got, "backend: embedded://") {
				t.Errorf("with no target the backend is not HERALD_URL's embedded broker:\n%s", got)
			}
		})
	}
}
