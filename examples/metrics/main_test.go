package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/heraldkit/herald/heraldtest"
)

// TestOnce runs the example with -once and checks the scraped metrics.
func TestOnce(t *testing.T) {
	var out, errOut bytes.Buffer
	h := heraldtest.New(t)
	if err := run(context.Background(), []string{"-once", "-n", "10", "-target", h.URL()}, &out, &errOut); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, errOut.String())
	}
	// The harness's own records say the same as the metrics.
	if pub, dl, dlq := len(h.Published("orders")), len(h.DeadLettered("orders", "metrics-example")), len(h.Published("orders.dlq")); pub != 10 || dl != 2 || dlq != 2 {
		t.Errorf("harness: %d published, %d dead-lettered, %d on orders.dlq; want 10, 2, 2", pub, dl, dlq)
	}
	if n := len(h.Handled("orders", "metrics-example")); n != 8 {
		t.Errorf("harness: %d handled, want 8 (10 less 2 dead-lettered)", n)
	}
	for _, want := range []string{
		`herald_messages_published_total{herald_backend="heraldtest",messaging_destination_name="orders"`,
		`herald_messages_consumed_total{herald_backend="heraldtest",messaging_consumer_group_name="metrics-example",messaging_destination_name="orders"`,
		"herald_messages_dead_lettered_total{",
		"herald_messages_retried_total{",
		"herald_messages_in_flight{",
		"herald_handler_duration_seconds_bucket{",
		"herald_publish_duration_seconds_count{",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %s", want)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		switch {
		case strings.HasPrefix(line, "herald_messages_consumed_total{") && !strings.HasSuffix(line, "} 10"),
			strings.HasPrefix(line, "herald_messages_dead_lettered_total{") && !strings.HasSuffix(line, "} 2"),
			strings.HasPrefix(line, "herald_messages_retried_total{") && !strings.HasSuffix(line, "} 3"):
			t.Errorf("unexpected value: %s", line)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:0": true, "localhost:9464": true, "[::1]:9464": true, ":9464": false, "0.0.0.0:9464": false, "example.com:80": false} {
		if err := loopbackOnly(addr); (err == nil) != ok {
			t.Errorf("loopbackOnly(%q) = %v", addr, err)
		}
	}
}
