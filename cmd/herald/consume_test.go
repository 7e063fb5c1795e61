package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
)

func TestApplyFrom(t *testing.T) {
	for _, tc := range []struct {
		url, from, key, want, err string
	}{
		{url: "kafka://h:9092", from: "beginning", key: "start", want: "oldest"},
		{url: "kafka://h:9092?group=g", from: "new", key: "start", want: "newest"},
		{url: "kafka://h:9092?initial_offset=newest", from: "beginning", key: "start", want: "oldest"}, // the older name gives way
		{url: "kafka://h:9092?initial_offset=newest", from: "beginning", key: "initial_offset", want: ""},
		{url: "nats://h:4222?group=g", from: "beginning", key: "start", want: "oldest"},
		{url: "embedded://?group=g", from: "new", key: "start", want: "newest"},
		{url: "nats://h:4222?group=g&deliver=new", from: "beginning", key: "start", want: "oldest"},
		{url: "nats://h:4222", from: "new", key: "start", want: ""},
		{url: "nats://h:4222", from: "beginning", err: "needs -group NAME"},
		{url: "nats://h:4222?mode=core", from: "beginning", err: "core NATS"},
		{url: "amqp://h:5672/", from: "beginning", err: "RabbitMQ keeps no history"},
		{url: "amqp://h:5672/?group=g", from: "new", err: "drop -from"},
		{url: "amqp://h:5672/", from: "new", key: "x", want: ""},
		{url: "mem://b", from: "beginning", err: "mem keeps no history"},
	} {
		cfg, err := herald.ParseURL(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		err = applyFrom(&cfg, tc.from)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s -from %s: %v; want an error containing %q", tc.url, tc.from, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s -from %s: %v", tc.url, tc.from, err)
		case cfg.Options[tc.key] != tc.want:
			t.Errorf("%s -from %s: option %s = %q; want %q", tc.url, tc.from, tc.key, cfg.Options[tc.key], tc.want)
		}
	}
}

func TestConsumeFromKafka(t *testing.T) {
	url := adaptertest.BrokerURL(t, "HERALD_TEST_KAFKA")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := "cli.from." + herald.NewID()
	var out bytes.Buffer
	if err := run(ctx, []string{"publish", "-url", url, "-topic", topic, "old"}, nil, &out); err != nil {
		t.Fatalf("publish: %v", err)
	}
	out.Reset()
	// Without a group a Kafka reader starts at the end; -from beginning
	// makes it read what the topic holds.
	if err := run(ctx, []string{"consume", "-url", url, "-topic", topic, "-from", "beginning", "-n", "1"}, nil, &out); err != nil {
		t.Fatalf("consume: %v", err)
	}
	if !strings.Contains(out.String(), `payload="old"`) {
		t.Errorf("consume -from beginning printed %q; want the old message", out.String())
	}
}

func TestConsumeUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"consume", "-topic", "t", "-format", "xml"}, `-format "xml": allowed: text, json`},
		{[]string{"consume", "-topic", "t", "-from", "start"}, `-from "start": allowed: beginning, new`},
		{[]string{"consume", "-topic", "t", "-n", "-1"}, "-n must be 0"},
		{[]string{"consume", "-url", "mem://x", "-topic", "t", "-from", "beginning"}, "mem keeps no history"},
	} {
		err := run(context.Background(), tc.args, nil, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err, nil, &bytes.Buffer{}) != 2 {
			t.Errorf("run(%q) = %v; want a usage error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestPrintJSONBinary(t *testing.T) {
	m := herald.NewMessage([]byte{0xff, 0x00})
	var b bytes.Buffer
	if err := printJSON(&b, "t", m); err != nil {
		t.Fatal(err)
	}
	want := `{"topic":"t","id":"` + m.UUID + `","headers":{},"payload":"/wA=","payload_encoding":"base64"}` + "\n"
	if b.String() != want {
		t.Errorf("printJSON = %s; want %s", b.String(), want)
	}
}
