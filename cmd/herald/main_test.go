package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestCLIPublishConsumeBench(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	url := "embedded://" + t.TempDir()
	var out bytes.Buffer
	if err := run(ctx, []string{"publish", "-url", url, "-topic", "cli.test", "-key", "k1", "-header", "source=cli", "hello"}, nil, &out); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if !strings.Contains(out.String(), "published ") {
		t.Errorf("publish printed %q", out.String())
	}
	out.Reset()
	// A new durable group starts at the oldest retained message.
	if err := run(ctx, []string{"consume", "-url", url, "-topic", "cli.test", "-group", "g", "-n", "1"}, nil, &out); err != nil {
		t.Fatalf("consume: %v", err)
	}
	for _, w := range []string{`cli.test id=`, `key="k1"`, `source="cli"`, `payload="hello"`} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("consume printed %q; want %s", out.String(), w)
		}
	}
	out.Reset()
	if err := run(ctx, []string{"bench", "-url", "mem://cli-bench", "-n", "500"}, nil, &out); err != nil {
		t.Fatalf("bench: %v", err)
	}
	if !strings.Contains(out.String(), "end-to-end") {
		t.Errorf("bench printed %q", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"schemes"}, nil, &out); err != nil || !strings.Contains(out.String(), "kafka\n") {
		t.Errorf("schemes = %q, %v", out.String(), err)
	}
}

func TestCLIErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nope"}, `unknown command "nope"`},
		{[]string{"publish", "x"}, "-topic is required"},
		{[]string{"publish", "-url", "kafka://h:0", "-topic", "t", "x"}, `key "hosts"`},
		{[]string{"consume", "-url", "bogus://h", "-topic", "t"}, "registered schemes"},
		{[]string{"bench", "-n", "0"}, "must be at least 1"},
	} {
		err := run(ctx, tc.args, strings.NewReader(""), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v; want an error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestUsageListsEveryCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"serve", "doctor", "publish", "consume", "bench", "schemes"} {
		if !strings.Contains(out.String(), "\n  herald "+c+" ") {
			t.Errorf("usage does not list %s:\n%s", c, out.String())
		}
		if c != "schemes" {
			if err := run(context.Background(), []string{c, "-h"}, nil, &bytes.Buffer{}); !errors.Is(err, flag.ErrHelp) {
				t.Errorf("herald %s -h = %v; want flag.ErrHelp", c, err)
			}
		}
	}
}
