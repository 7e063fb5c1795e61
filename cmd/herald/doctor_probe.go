package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// probe opens a publisher and a private subscriber on the configuration
// (authentication), subscribes to the probe topic (permission to
// consume), publishes a probe message (permission to publish) and waits
// for it (the round trip).
func (d *doctor) probe(ctx context.Context) {
	cfg := d.cfg.Clone()
	cfg.Group = "" // a private consumer: no group created, none disturbed
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var (
		pub *publisher.Publisher
		sub *subscriber.Subscriber
	)
	ready := make(chan struct{})
	// Other runs may probe the same topic at the same time: only this
	// run's probe counts.
	msg := herald.NewMessage([]byte("herald doctor probe"))
	msg.Metadata.Set("herald-doctor", "probe")
	got := make(chan struct{})
	var gotOnce sync.Once
	d.step("auth", func() (string, error) {
		ctx, cancel := context.WithTimeout(ctx, d.timeout)
		defer cancel()
		var err error
		if pub, err = publisher.OpenConfig(ctx, cfg, publisher.WithLogger(quiet)); err != nil {
			return "", err
		}
		sub, err = subscriber.OpenConfig(ctx, cfg, subscriber.WithLogger(quiet),
			subscriber.WithReady(func(string) { close(ready) }))
		if err != nil {
			return "", err
		}
		switch {
		case !network(cfg.Scheme):
			return "opened a publisher and a subscriber", nil
		case cfg.Username != "":
			return fmt.Sprintf("connected as user %q", cfg.Username), nil
		}
		return "connected (no user name configured)", nil
	})
	defer func() {
		if sub != nil {
			_ = sub.Close()
		}
		if pub != nil {
			_ = pub.Close()
		}
	}()
	subCtx, stopSub := context.WithCancel(ctx)
	defer stopSub()
	subDone := make(chan error, 1)
	d.step("consume", func() (string, error) {
		go func() {
			subDone <- sub.Subscribe(subCtx, d.topic, func(_ context.Context, m *herald.Message) error {
				if m.UUID == msg.UUID {
					gotOnce.Do(func() { close(got) })
				}
				return nil
			})
		}()
		t := time.NewTimer(d.timeout)
		defer t.Stop()
		select {
		case <-ready:
			if err := serverRefused(ctx, d.timeout, sub); err != nil {
				return "", err
			}
			return fmt.Sprintf("subscribed to %q (a private consumer, no group)", d.topic), nil
		case err := <-subDone:
			subDone <- err
			if err == nil {
				err = errors.New("the subscription ended at once")
			}
			return "", withServerError(err, pub, sub)
		case <-t.C:
			return "", withServerError(fmt.Errorf("subscribing to %q took longer than %v: %w", d.topic, d.timeout, context.DeadlineExceeded), pub, sub)
		}
	})
	var sent time.Time
	d.step("publish", func() (string, error) {
		ctx, cancel := context.WithTimeout(ctx, d.timeout)
		defer cancel()
		sent = time.Now()
		if err := pub.Publish(ctx, d.topic, msg); err != nil {
			return "", withServerError(err, pub, sub)
		}
		if err := serverRefused(ctx, d.timeout, pub); err != nil {
			return "", err
		}
		if cfg.Scheme == "nats" && cfg.Options["mode"] == "core" {
			return fmt.Sprintf("handed probe %s to the server (core NATS does not acknowledge: the round trip tells)", msg.UUID), nil
		}
		return fmt.Sprintf("the broker acknowledged probe %s in %s", msg.UUID, time.Since(sent).Round(time.Microsecond)), nil
	})
	d.step("roundtrip", func() (string, error) {
		t := time.NewTimer(d.timeout)
		defer t.Stop()
		select {
		case <-got:
			return fmt.Sprintf("received probe %s %s after publishing it", msg.UUID, time.Since(sent).Round(time.Microsecond)), nil
		case err := <-subDone:
			subDone <- err
			if err == nil {
				err = errors.New("it ended without an error")
			}
			return "", withServerError(fmt.Errorf("the subscription stopped before the probe arrived: %w", err), pub, sub)
		case <-t.C:
			return "", withServerError(fmt.Errorf("probe %s did not arrive within %v: %w", msg.UUID, d.timeout, errProbeLost), pub, sub)
		}
	})
	stopSub()
}

// errProbeLost is the round trip's failure when the probe never arrived.
var errProbeLost = errors.New("probe message lost")

// withServerError adds what the server reported on the side, where the
// client reports it (NATS sends a denied publish or subscription as an
// asynchronous -ERR, so the call itself only times out).
func withServerError(err error, sides ...interface{ As(any) bool }) error {
	for _, side := range sides {
		var nc *nats.Conn
		if side == nil || !side.As(&nc) || nc == nil {
			continue
		}
		if last := nc.LastError(); last != nil {
			return fmt.Errorf("%w (the server reported: %w)", err, last)
		}
	}
	return err
}

// serverRefused returns the error a NATS server reported on side's
// connection, after a round trip to the server so that an -ERR sent for
// what came before has arrived (core NATS publishes and subscribes
// without waiting for an answer). Other backends answer nil.
func serverRefused(ctx context.Context, timeout time.Duration, side interface{ As(any) bool }) error {
	var nc *nats.Conn
	if side == nil || !side.As(&nc) || nc == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("round trip to the server: %w", err)
	}
	if last := nc.LastError(); last != nil {
		return fmt.Errorf("the server refused: %w", last)
	}
	return nil
}
