package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/subscriber"
)

func consumeCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs, url := newFlags("consume")
	topic := fs.String("topic", "", "topic to consume (required)")
	group := fs.String("group", "", "consumer group (default: a private subscriber)")
	n := fs.Int("n", 0, "exit after this many messages (0: run until interrupted)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *topic == "" {
		return fmt.Errorf("consume: -topic is required")
	}
	var opts []subscriber.Option
	if *group != "" {
		opts = append(opts, subscriber.WithGroup(*group))
	}
	sub, err := subscriber.Open(ctx, *url, opts...)
	if err != nil {
		return err
	}
	defer sub.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	count := 0
	return sub.Subscribe(ctx, *topic, func(_ context.Context, m *herald.Message) error {
		mu.Lock()
		defer mu.Unlock()
		if *n > 0 && count >= *n {
			return fmt.Errorf("consume: already got %d messages", *n) // nack: leave it for others
		}
		count++
		printMessage(stdout, m)
		if *n > 0 && count == *n {
			cancel()
		}
		return nil
	})
}

func printMessage(w io.Writer, m *herald.Message) {
	fmt.Fprintf(w, "id=%s", m.UUID)
	keys := make([]string, 0, len(m.Metadata))
	for k := range m.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, " %s=%q", k, m.Metadata[k])
	}
	fmt.Fprintf(w, " payload=%q\n", m.Payload)
}
