package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSizes(t *testing.T) {
	got, err := parseSizes("100, 1024,65536")
	if err != nil || len(got) != 3 || got[0] != 100 || got[2] != 65536 {
		t.Errorf("parseSizes = %v, %v", got, err)
	}
	for _, bad := range []string{"", "8", "x", "100,-1"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q) accepted", bad)
		}
	}
}

func TestListAndFilter(t *testing.T) {
	for _, e := range brokerEnv {
		t.Setenv(e.env, "")
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-list", "-cases", "native,herald-b100"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	// native and native-sync16 match "native" (on NATS also their
	// -headers variants, on Kafka and NATS native-defaults); three
	// herald-b100 cases (c1, c8, c1-x10); three brokers.
	if len(lines) != 3*5+2+2 {
		t.Errorf("-list printed %d lines; want 19:\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 2 || !(strings.HasPrefix(f[1], "native") || strings.HasPrefix(f[1], "herald-b100")) {
			t.Errorf("unexpected case line %q", l)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "no broker to run"},
		{[]string{"-brokers", "kafka"}, "HERALD_TEST_KAFKA is empty"},
		{[]string{"-brokers", "redis"}, `unknown broker "redis"`},
		{[]string{"-list", "-cases", "nope"}, "matches no case"},
		{[]string{"-rounds", "0"}, "at least 1"},
	} {
		err := run(context.Background(), tc.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v; want %q", tc.args, err, tc.want)
		}
	}
}

func TestHandWrittenTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "performance.md")
	if tail, err := handWrittenTail(path); err != nil || tail != "" {
		t.Errorf("missing file: %q, %v", tail, err)
	}
	os.WriteFile(path, []byte("# old generated\n\n"+keepMarker+"\n\n## Tuning\n\nkept\n"), 0o644)
	tail, err := handWrittenTail(path)
	if err != nil || tail != keepMarker+"\n\n## Tuning\n\nkept\n" {
		t.Errorf("tail = %q, %v", tail, err)
	}
	os.WriteFile(path, []byte("# no marker\n"), 0o644)
	if tail, _ := handWrittenTail(path); tail != "" {
		t.Errorf("tail without marker = %q", tail)
	}
	if got := chartLink("../docs/performance.md", "../docs/performance-ratios.svg"); got != "performance-ratios.svg" {
		t.Errorf("chartLink = %q", got)
	}
}

func TestParsePIDs(t *testing.T) {
	got, err := parsePIDs("kafka=12, amqp=34,nats=56")
	if err != nil || got["kafka"] != 12 || got["amqp"] != 34 || got["nats"] != 56 || len(got) != 3 {
		t.Errorf("parsePIDs = %v, %v", got, err)
	}
	for _, bad := range []string{"kafka", "kafka=x", "kafka=0", "rabbit=3"} {
		if _, err := parsePIDs(bad); err == nil || !strings.Contains(err.Error(), "-broker-pids") {
			t.Errorf("parsePIDs(%q) = %v; want an error naming -broker-pids", bad, err)
		}
	}
	if got, err := parsePIDs(""); err != nil || len(got) != 0 {
		t.Errorf("parsePIDs(\"\") = %v, %v", got, err)
	}
}

// TestSynchronousCasesExist: every name -n-sync applies to is a case the
// benchmark runs (a renamed case would silently run 500k messages).
func TestSynchronousCasesExist(t *testing.T) {
	for _, e := range brokerEnv {
		t.Setenv(e.env, "")
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-list"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) > 1 && synchronous(f[1]) {
			seen[f[1]] = true
		}
	}
	for _, name := range []string{"native-sync16", "native-sync16-headers", "watermill-p16", "herald-p1-c1", "herald-p16-c1", "herald-p16-c8"} {
		if !seen[name] {
			t.Errorf("%s is not a listed case taken as synchronous", name)
		}
	}
	if synchronous("native") || synchronous("herald-async-c1") {
		t.Error("a windowed case is taken as synchronous")
	}
}
