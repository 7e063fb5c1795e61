package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
)

// maxLine is the longest stdin line publish reads as one message.
const maxLine = 64 << 20

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

// publishOptions are publish's flags.
type publishOptions struct {
	topic, key string
	headers    headers
	count      int
	rate       float64
	raw        bool
	verbose    bool
	props      herald.Properties // -type, -ttl, -time
}

// publishCmd publishes the payload argument (-count times), or one
// message per line of stdin (the whole of stdin with -raw).
func publishCmd(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs, url := newFlags("publish")
	o := publishOptions{headers: headers{}}
	fs.StringVar(&o.topic, "topic", "", "topic to publish to (required)")
	fs.StringVar(&o.key, "key", "", "ordering key of every message")
	fs.Var(o.headers, "header", "metadata header key=value (repeatable)")
	fs.IntVar(&o.count, "count", 1, "publish the payload argument this many times")
	fs.Float64Var(&o.rate, "rate", 0, "messages per second at most (0: as fast as the broker acknowledges)")
	fs.BoolVar(&o.raw, "raw", false, "publish the whole of stdin as one message instead of one message per line")
	fs.BoolVar(&o.verbose, "v", false, "print each message's ID (with its stdin line number)")
	fs.StringVar(&o.props.Type, "type", "", "broker message type property (AMQP type; refused where the backend has none)")
	fs.DurationVar(&o.props.TTL, "ttl", 0, "per-message expiry, e.g. 10m (AMQP expiration; refused where the backend has none)")
	stamp := fs.String("time", "", "message timestamp, RFC 3339 (Kafka record timestamp, AMQP timestamp; refused where the backend has none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *stamp != "" {
		ts, err := time.Parse(time.RFC3339Nano, *stamp)
		if err != nil {
			return usagef("publish: -time %q is not RFC 3339 (e.g. 2026-12-07T13:40:00Z)", *stamp)
		}
		o.props.Time = ts
	}
	switch {
	case o.topic == "":
		return usagef("publish: -topic is required")
	case fs.NArg() > 1:
		return usagef("publish: want at most one payload argument, got %d (quote the payload)", fs.NArg())
	case o.count < 1:
		return usagef("publish: -count must be at least 1, got %d", o.count)
	case o.count > 1 && fs.NArg() == 0:
		return usagef("publish: -count needs a payload argument (stdin publishes one message per line)")
	case o.rate < 0:
		return usagef("publish: -rate must be 0 (no limit) or positive, got %v", o.rate)
	case o.raw && fs.NArg() == 1:
		return usagef("publish: -raw reads stdin; drop it or the payload argument")
	}
	pub, err := publisher.Open(ctx, *url)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	defer pub.Close()
	p := &publishRun{o: o, pub: pub, out: stdout, start: time.Now()}
	switch {
	case fs.NArg() == 1:
		payload := []byte(fs.Arg(0))
		if o.count == 1 {
			return p.one(ctx, payload)
		}
		p.unit = "message"
		err = p.many(ctx, func(yield func(int, []byte) bool) error {
			for i := 1; i <= o.count; i++ {
				if !yield(i, payload) {
					return nil
				}
			}
			return nil
		})
	case o.raw:
		b, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("publish: read stdin: %w", err)
		}
		return p.one(ctx, b)
	default:
		p.unit = "line"
		if isTerminal(stdin) {
			fmt.Fprintln(os.Stderr, "herald publish: one message per line; end with Ctrl-D (Ctrl-Z Enter on Windows)")
		}
		err = p.many(ctx, func(yield func(int, []byte) bool) error {
			sc := bufio.NewScanner(stdin)
			sc.Buffer(make([]byte, 64<<10), maxLine)
			line := 0
			for sc.Scan() {
				line++
				b := sc.Bytes()
				if len(b) == 0 {
					continue // as kcat: an empty line is no message
				}
				if !yield(line, append([]byte(nil), b...)) {
					return nil
				}
			}
			if err := sc.Err(); err != nil {
				return fmt.Errorf("read stdin after line %d: %w", line, err)
			}
			return nil
		})
	}
	return err
}

// publishRun publishes with one set of options.
type publishRun struct {
	o     publishOptions
	pub   *publisher.Publisher
	out   io.Writer
	start time.Time
	unit  string // what a failure's number counts: "line" (stdin) or "message" (-count)
}

// message builds a message with the key and headers.
func (p *publishRun) message(payload []byte) *herald.Message {
	m := herald.NewMessage(payload)
	if p.o.key != "" {
		herald.SetKey(m, p.o.key)
	}
	for k, v := range p.o.headers {
		m.Metadata.Set(k, v)
	}
	return m
}

// one publishes one message and waits for the broker's acknowledgement.
func (p *publishRun) one(ctx context.Context, payload []byte) error {
	m := p.message(payload)
	if err := p.pub.PublishWith(ctx, p.o.topic, p.o.props, m); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	fmt.Fprintf(p.out, "published %s to %s on %s\n", m.UUID, p.o.topic, p.pub.Config())
	return nil
}

// failure is a message that was not published.
type failure struct {
	line int
	err  error
}

// many publishes the messages of next through the asynchronous path
// (many in flight), paced by -rate, and reports every failure with its
// line (or sequence) number.
func (p *publishRun) many(ctx context.Context, next func(yield func(int, []byte) bool) error) error {
	var (
		mu       sync.Mutex
		failures []failure
		taken    int // handed to PublishAsync
		nacked   int // of those, answered with an error
	)
	var pace *pacer
	if p.o.rate > 0 {
		pace = newPacer(p.o.rate, time.Now())
	}
	readErr := next(func(line int, payload []byte) bool {
		if pace != nil && pace.wait(ctx) != nil {
			return false
		}
		m := p.message(payload)
		err := p.pub.PublishAsyncWith(ctx, p.o.topic, p.o.props, m, func(_ *herald.Message, err error) {
			if err != nil {
				mu.Lock()
				failures = append(failures, failure{line, err})
				nacked++
				mu.Unlock()
			}
		})
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if ctx.Err() != nil {
				return false // interrupted: reported below
			}
			failures = append(failures, failure{line, err})
			return true
		}
		taken++
		if p.o.verbose {
			fmt.Fprintf(p.out, "%d\t%s\n", line, m.UUID)
		}
		return true
	})
	flushErr := p.pub.Flush(ctx)
	mu.Lock()
	defer mu.Unlock()
	ok := taken - nacked
	elapsed := time.Since(p.start)
	fmt.Fprintf(p.out, "published %d messages to %s on %s in %s (%.0f msg/s)\n",
		ok, p.o.topic, p.pub.Config(), elapsed.Round(time.Millisecond), float64(ok)/max(elapsed.Seconds(), 1e-9))
	var errs []error
	if readErr != nil {
		errs = append(errs, readErr)
	}
	if len(failures) > 0 {
		errs = append(errs, failuresError(p.unit, failures))
	}
	if flushErr != nil {
		errs = append(errs, flushErr)
	} else if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("interrupted after %d messages: %w", taken, err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("publish: %w", errors.Join(errs...))
	}
	return nil
}

// maxListed is how many failed lines an error names one by one.
const maxListed = 10

// failuresError says how many messages failed, which lines, and why.
func failuresError(unit string, fs []failure) error {
	sort.Slice(fs, func(i, j int) bool { return fs[i].line < fs[j].line })
	var b strings.Builder
	fmt.Fprintf(&b, "%d message(s) not published:", len(fs))
	for i, f := range fs {
		if i == maxListed {
			fmt.Fprintf(&b, "\n  ... and %d more", len(fs)-maxListed)
			break
		}
		fmt.Fprintf(&b, "\n  %s %d: %v", unit, f.line, f.err)
	}
	return errors.New(b.String())
}

// pacer spaces messages rate per second apart, from a start time, without
// drifting: message i is due at start + i/rate.
type pacer struct {
	start    time.Time
	interval time.Duration
	n        int64
}

func newPacer(rate float64, start time.Time) *pacer {
	return &pacer{start: start, interval: time.Duration(float64(time.Second) / rate)}
}

// wait sleeps until the next message is due, or ctx ends.
func (p *pacer) wait(ctx context.Context) error {
	due := p.start.Add(time.Duration(p.n) * p.interval)
	p.n++
	d := time.Until(due)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
