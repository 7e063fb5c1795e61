package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
)

// headers is a repeatable -header key=value flag.
type headers map[string]string

func (h headers) String() string { return fmt.Sprint(map[string]string(h)) }

func (h headers) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("header %q: want key=value", s)
	}
	h[k] = v
	return nil
}

func publishCmd(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs, url := newFlags("publish")
	topic := fs.String("topic", "", "topic to publish to (required)")
	key := fs.String("key", "", "ordering key")
	hdrs := headers{}
	fs.Var(hdrs, "header", "metadata header key=value (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *topic == "" {
		return fmt.Errorf("publish: -topic is required")
	}
	var payload []byte
	switch fs.NArg() {
	case 0:
		b, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("publish: read stdin: %w", err)
		}
		payload = b
	case 1:
		payload = []byte(fs.Arg(0))
	default:
		return fmt.Errorf("publish: want one payload argument, got %d", fs.NArg())
	}
	pub, err := publisher.Open(ctx, *url)
	if err != nil {
		return err
	}
	defer pub.Close()
	m := herald.NewMessage(payload)
	if *key != "" {
		herald.SetKey(m, *key)
	}
	for k, v := range hdrs {
		m.Metadata.Set(k, v)
	}
	if err := pub.Publish(ctx, *topic, m); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "published %s to %s on %s\n", m.UUID, *topic, pub.Config())
	return nil
}
