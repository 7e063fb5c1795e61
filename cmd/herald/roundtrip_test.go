package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestCLIRoundTrip is the acceptance round trip: serve, publish from
// stdin, consume -format json, every field of every line checked.
func TestCLIRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := startServe(t, t.TempDir())
	lines := []string{`{"id":1}`, "", "plain text", "caf\xc3\xa9", "bin\xff\xfe"}
	var out bytes.Buffer
	err := run(ctx, []string{"publish", "-url", s.url, "-topic", "rt.orders", "-key", "order-1",
		"-header", "source=cli", "-header", "trace=abc", "-v"}, strings.NewReader(strings.Join(lines, "\n")+"\n"), &out)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	// -v prints "line<TAB>id" per message; the empty line 2 is skipped.
	ids := map[string]string{} // id -> payload
	sc := bufio.NewScanner(&out)
	var summary string
	for sc.Scan() {
		line, id, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			summary = sc.Text()
			continue
		}
		n := map[string]int{"1": 0, "3": 2, "4": 3, "5": 4}[line]
		if n == 0 && line != "1" {
			t.Fatalf("publish -v printed line number %q", line)
		}
		ids[id] = lines[n]
	}
	if len(ids) != 4 || !strings.HasPrefix(summary, "published 4 messages to rt.orders on "+s.url) {
		t.Fatalf("publish printed %q; want 4 IDs and a summary", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"consume", "-url", s.url, "-topic", "rt.orders", "-group", "rt", "-from", "beginning",
		"-format", "json", "-n", "4"}, nil, &out); err != nil {
		t.Fatalf("consume: %v", err)
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != 4 {
		t.Fatalf("consume printed %d lines, want 4: %q", len(got), out.String())
	}
	for i, l := range got {
		var m messageJSON
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		want, ok := ids[m.ID]
		if !ok {
			t.Errorf("line %d: id %q was not published", i, m.ID)
			continue
		}
		delete(ids, m.ID)
		payload := m.Payload
		switch m.PayloadEncoding {
		case "base64":
			b, err := base64.StdEncoding.DecodeString(m.Payload)
			if err != nil {
				t.Errorf("line %d: payload %q is not base64: %v", i, m.Payload, err)
			}
			payload = string(b)
			if want != "bin\xff\xfe" {
				t.Errorf("line %d: valid UTF-8 %q came as base64", i, want)
			}
		case "utf-8":
		default:
			t.Errorf("line %d: payload_encoding %q", i, m.PayloadEncoding)
		}
		if m.Topic != "rt.orders" || m.Key != "order-1" || payload != want ||
			m.Headers["source"] != "cli" || m.Headers["trace"] != "abc" || m.Headers["herald-key"] != "" {
			t.Errorf("line %d = %+v; want topic rt.orders, key order-1, headers source=cli trace=abc, payload %q", i, m, want)
		}
	}
	if len(ids) > 0 {
		t.Errorf("never consumed: %v", ids)
	}
}
