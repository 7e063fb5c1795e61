package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/subscriber"
)

// consumeCmd prints the messages of a topic until -n of them arrived or
// ctx ends.
func consumeCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs, url := newFlags("consume")
	topic := fs.String("topic", "", "topic to consume (required)")
	group := fs.String("group", "", "consumer group (default: a private subscriber, which sees new messages only unless -from says otherwise)")
	n := fs.Int("n", 0, "exit after this many messages (0: run until interrupted)")
	format := fs.String("format", "text", "output: text, or json (one object per line)")
	from := fs.String("from", "", "where a new group or private subscriber starts: beginning or new (default: the backend's; see README)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *topic == "":
		return usagef("consume: -topic is required")
	case fs.NArg() > 0:
		return usagef("consume: unexpected arguments %q", fs.Args())
	case *n < 0:
		return usagef("consume: -n must be 0 (no limit) or positive, got %d", *n)
	case *format != "text" && *format != "json":
		return usagef("consume: -format %q: allowed: text, json", *format)
	case *from != "" && *from != fromBeginning && *from != fromNew:
		return usagef("consume: -from %q: allowed: beginning, new", *from)
	}
	cfg, err := herald.Resolve(*url)
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	if *group != "" {
		cfg.Group = *group
	}
	if err := applyFrom(&cfg, *from); err != nil {
		return usageError{fmt.Errorf("consume: %w", err)}
	}
	sub, err := subscriber.OpenConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	defer sub.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	print := printText
	if *format == "json" {
		print = printJSON
	}
	var mu sync.Mutex
	count := 0
	err = sub.Subscribe(ctx, *topic, func(_ context.Context, m *herald.Message) error {
		mu.Lock()
		defer mu.Unlock()
		if *n > 0 && count >= *n {
			// Nack it for the group's other members, quietly (a
			// RetryAfter failure is logged at debug level only).
			return herald.RetryAfter(fmt.Errorf("consume: already got %d messages", *n), 0)
		}
		if err := print(stdout, *topic, m); err != nil {
			cancel()
			return err
		}
		count++
		if *n > 0 && count == *n {
			cancel()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	return nil
}

// messageJSON is one line of -format json. Its field names are stable.
type messageJSON struct {
	Topic   string            `json:"topic"`
	ID      string            `json:"id"`
	Key     string            `json:"key,omitempty"`
	Headers map[string]string `json:"headers"`
	// Payload is the payload as a string when it is valid UTF-8, else
	// its base64 (standard encoding), as PayloadEncoding says.
	Payload         string `json:"payload"`
	PayloadEncoding string `json:"payload_encoding"` // "utf-8" or "base64"
}

// headersOf returns the message's headers without the key, which has a
// field of its own.
func headersOf(m *herald.Message) map[string]string {
	h := make(map[string]string, len(m.Metadata))
	for k, v := range m.Metadata {
		if k != herald.KeyHeader {
			h[k] = v
		}
	}
	return h
}

// printJSON writes m as one JSON object on a line.
func printJSON(w io.Writer, topic string, m *herald.Message) error {
	j := messageJSON{Topic: topic, ID: m.UUID, Key: herald.Key(m), Headers: headersOf(m)}
	if utf8.Valid(m.Payload) {
		j.Payload, j.PayloadEncoding = string(m.Payload), "utf-8"
	} else {
		j.Payload, j.PayloadEncoding = base64.StdEncoding.EncodeToString(m.Payload), "base64"
	}
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// printText writes m as one line: topic, id, key, headers (sorted), and
// the payload quoted.
func printText(w io.Writer, topic string, m *herald.Message) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s id=%s", topic, m.UUID)
	if k := herald.Key(m); k != "" {
		fmt.Fprintf(&b, " key=%q", k)
	}
	h := headersOf(m)
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, h[k])
	}
	fmt.Fprintf(&b, " payload=%q\n", m.Payload)
	_, err := io.WriteString(w, b.String())
	return err
}
