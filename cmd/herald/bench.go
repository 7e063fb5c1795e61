package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

func benchCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs, url := newFlags("bench")
	topic := fs.String("topic", "", "topic (default: a fresh herald.bench.<id>)")
	n := fs.Int("n", 10000, "messages to send")
	size := fs.Int("size", 1024, "payload bytes")
	publishers := fs.Int("publishers", 4, "concurrent publishers")
	batch := fs.Int("batch", 1, "messages per Publish call")
	concurrency := fs.Int("concurrency", 4, "subscriber concurrency")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *size < 0 || *publishers < 1 || *batch < 1 || *concurrency < 1 {
		return fmt.Errorf("bench: -n, -publishers, -batch and -concurrency must be at least 1, -size at least 0")
	}
	if *topic == "" {
		*topic = "herald.bench." + herald.NewID()
	}
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, *url, subscriber.WithGroup("herald-bench"), subscriber.WithConcurrency(*concurrency),
		subscriber.WithReady(func(t string) { ready <- t }))
	if err != nil {
		return err
	}
	defer sub.Close()
	pub, err := publisher.Open(ctx, *url)
	if err != nil {
		return err
	}
	defer pub.Close()

	var got atomic.Int64
	done := make(chan struct{})
	subCtx, stop := context.WithCancel(ctx)
	defer stop()
	subErr := make(chan error, 1)
	go func() {
		subErr <- sub.Subscribe(subCtx, *topic, func(context.Context, *herald.Message) error {
			if got.Add(1) == int64(*n) {
				close(done)
			}
			return nil
		})
	}()
	select {
	case <-ready:
	case err := <-subErr:
		return err
	}

	payload := make([]byte, *size)
	start := time.Now()
	var wg sync.WaitGroup
	var next atomic.Int64
	errs := make(chan error, *publishers)
	for p := 0; p < *publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := next.Add(int64(*batch)) - int64(*batch)
				if from >= int64(*n) {
					return
				}
				k := min(int64(*batch), int64(*n)-from)
				msgs := make([]*herald.Message, k)
				for i := range msgs {
					msgs[i] = herald.NewMessage(payload)
				}
				if err := pub.Publish(ctx, *topic, msgs...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	published := time.Since(start)
	select {
	case err := <-errs:
		return err
	default:
	}
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("bench: interrupted after %d of %d messages consumed", got.Load(), *n)
	}
	total := time.Since(start)
	fmt.Fprintf(stdout, "backend     %s\n", pub.Config())
	fmt.Fprintf(stdout, "messages    %d x %d B, %d publishers, batch %d, subscriber concurrency %d\n", *n, *size, *publishers, *batch, *concurrency)
	fmt.Fprintf(stdout, "publish     %8.0f msg/s  (%v)\n", float64(*n)/published.Seconds(), published.Round(time.Millisecond))
	fmt.Fprintf(stdout, "end-to-end  %8.0f msg/s  (%v)\n", float64(*n)/total.Seconds(), total.Round(time.Millisecond))
	return nil
}
