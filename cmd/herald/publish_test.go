package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/subscriber"
)

func TestPublishReportsFailedLines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := "embedded://" + t.TempDir()
	// Line 2 is over the embedded broker's 8 MiB limit.
	in := "a\n" + strings.Repeat("x", 9<<20) + "\nc\n"
	var out bytes.Buffer
	err := run(ctx, []string{"publish", "-url", url, "-topic", "big"}, strings.NewReader(in), &out)
	if err == nil || !strings.Contains(err.Error(), "1 message(s) not published") || !strings.Contains(err.Error(), "line 2: ") ||
		strings.Contains(err.Error(), "line 1") || strings.Contains(err.Error(), "line 3") {
		t.Fatalf("publish = %v; want line 2, and only line 2, reported", err)
	}
	if exitCode(err, nil, &bytes.Buffer{}) != 1 {
		t.Errorf("a failed publish exits %d; want 1", exitCode(err, nil, &bytes.Buffer{}))
	}
	if !strings.HasPrefix(out.String(), "published 2 messages to big") {
		t.Errorf("publish printed %q; want 2 published", out.String())
	}
}

func TestPublishCountRate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := "embedded://" + t.TempDir()
	start := time.Now()
	var out bytes.Buffer
	if err := run(ctx, []string{"publish", "-url", url, "-topic", "load", "-count", "20", "-rate", "200", "x"}, nil, &out); err != nil {
		t.Fatalf("publish: %v", err)
	}
	// 20 messages at 200/s: the last is due 19/200 s after the first.
	if d := time.Since(start); d < 95*time.Millisecond {
		t.Errorf("20 messages at -rate 200 took %v; want at least 95ms", d)
	}
	if !strings.HasPrefix(out.String(), "published 20 messages to load") {
		t.Errorf("publish printed %q", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"consume", "-url", url, "-topic", "load", "-group", "g", "-n", "20"}, nil, &out); err != nil {
		t.Fatalf("consume: %v", err)
	}
	if n := strings.Count(out.String(), `payload="x"`); n != 20 {
		t.Errorf("consumed %d messages; want 20", n)
	}
}

func TestPacer(t *testing.T) {
	start := time.Now()
	p := newPacer(1000, start)
	for range 50 {
		if err := p.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 49*time.Millisecond {
		t.Errorf("50 waits at 1000/s took %v; want at least 49ms", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow := newPacer(0.001, time.Now())
	_ = slow.wait(ctx) // the first is due at once
	if err := slow.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("wait after cancel = %v; want context.Canceled", err)
	}
}

func TestPublishUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"publish", "-topic", "t", "-count", "0", "x"}, "-count must be at least 1"},
		{[]string{"publish", "-topic", "t", "-count", "2"}, "-count needs a payload argument"},
		{[]string{"publish", "-topic", "t", "-rate", "-1", "x"}, "-rate must be 0"},
		{[]string{"publish", "-topic", "t", "-raw", "x"}, "-raw reads stdin"},
		{[]string{"publish", "-topic", "t", "a", "b"}, "at most one payload argument"},
		{[]string{"publish", "-nope"}, "flag provided but not defined"},
	} {
		err := run(context.Background(), tc.args, strings.NewReader(""), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v; want an error containing %q", tc.args, err, tc.want)
			continue
		}
		var stderr bytes.Buffer
		if code := exitCode(err, nil, &stderr); code != 2 || !strings.HasPrefix(stderr.String(), "herald") {
			t.Errorf("run(%q): exit code %d, stderr %q; want 2 and the error", tc.args, code, stderr.String())
		}
	}
}

// TestPublishProperties: -type, -ttl and -time are the broker properties
// of every message (herald.Properties): on RabbitMQ the consumer reads
// the type and expiration properties and the timestamp as Delivery.Time;
// a backend without them refuses by name; a bad -time is a usage error.
func TestPublishProperties(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := adaptertest.BrokerURL(t, "HERALD_TEST_AMQP")
	topic := adaptertest.UniqueName("cliprops")
	sub, err := subscriber.Open(ctx, url, subscriber.WithGroup("cli"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	type got struct {
		md   map[string]string
		time time.Time
	}
	ch := make(chan got, 1)
	if err := sub.Prepare(ctx, topic); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = sub.Subscribe(ctx, topic, func(ctx context.Context, m *herald.Message) error {
			d, _ := herald.DeliveryFromContext(ctx)
			ch <- got{m.Metadata, d.Time}
			return nil
		})
	}()
	var out bytes.Buffer
	args := []string{"publish", "-url", url, "-topic", topic, "-type", "com.example.order.placed", "-ttl", "10m", "-time", "2026-12-07T13:40:00Z", "x"}
	if err := run(ctx, args, nil, &out); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-ch:
		if g.md["amqp-type"] != "com.example.order.placed" || g.md["amqp-expiration"] != "600000" {
			t.Errorf("metadata %v; want amqp-type com.example.order.placed, amqp-expiration 600000", g.md)
		}
		if want := time.Date(2026, 12, 7, 13, 40, 0, 0, time.UTC); !g.time.Equal(want) {
			t.Errorf("Delivery.Time %v; want %v", g.time, want)
		}
	case <-ctx.Done():
		t.Fatal("nothing received")
	}
	err = run(ctx, []string{"publish", "-url", "mem://", "-topic", "t", "-ttl", "1m", "x"}, nil, &out)
	if err == nil || !strings.Contains(err.Error(), "Properties.TTL") || !strings.Contains(err.Error(), "mem") {
		t.Errorf("-ttl on mem: %v; want a refusal naming Properties.TTL and mem", err)
	}
	err = run(ctx, []string{"publish", "-url", "mem://", "-topic", "t", "-time", "noon", "x"}, nil, &out)
	if code := exitCode(err, nil, &bytes.Buffer{}); err == nil || code != 2 || !strings.Contains(err.Error(), "RFC 3339") {
		t.Errorf("-time noon: %v (exit %d); want a usage error naming RFC 3339", err, code)
	}
}
