package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// probeTopic is the topic of doctor's probe message. It is one fixed
// topic, so runs do not pile up topics, streams or exchanges; the probe
// consumes without a group, so it leaves no group behind.
const probeTopic = "herald.doctor.probe"

// doctor runs the checks of one configuration.
type doctor struct {
	timeout time.Duration
	topic   string

	cfg     herald.Config
	secrets secrets // values that must not appear in the report
	rep     doctorReport
	failed  bool
	addrs   []string // host:port of each broker
}

// network reports whether the backend is reached over the network.
func network(scheme string) bool {
	switch scheme {
	case "kafka", "amqp", "amqps", "nats":
		return true
	}
	return false
}

// run checks everything and returns the report.
func (d *doctor) run(ctx context.Context, url, file string) doctorReport {
	d.step("config", func() (string, error) { return d.config(url, file) })
	remote := network(d.cfg.Scheme)
	for _, s := range []struct {
		name string
		fn   func(context.Context) (string, error)
	}{
		{"dns", d.dns}, {"tcp", d.tcp}, {"tls", d.tls},
	} {
		if !remote && !d.failed {
			d.skip(s.name, d.cfg.Scheme+":// runs in this process: no network")
			continue
		}
		d.step(s.name, func() (string, error) { return d.withTimeout(ctx, s.fn) })
	}
	d.probe(ctx)
	if !d.failed {
		d.rep.OK = true
		d.rep.Verdict = fmt.Sprintf("%s works: a probe message went through topic %q and back", d.rep.Target, d.topic)
		if d.cfg.Scheme == "mem" {
			d.rep.Verdict += "; mem:// lives inside one process, so other processes cannot share it"
		}
	}
	return d.rep
}

// withTimeout runs fn with the step time limit.
func (d *doctor) withTimeout(ctx context.Context, fn func(context.Context) (string, error)) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	return fn(ctx)
}

// step runs fn as the named step, unless an earlier one failed, and
// records its result. A failure is classified to give the verdict and
// the fix.
func (d *doctor) step(name string, fn func() (string, error)) bool {
	if d.failed {
		d.skip(name, "not run: an earlier step failed")
		return false
	}
	start := time.Now()
	detail, err := fn()
	s := doctorStep{Name: name, Status: statusOK, Detail: detail, Millis: time.Since(start).Milliseconds()}
	if err != nil {
		p := classify(name, err, d.cfg)
		s.Status, s.Detail, s.Fix = statusFail, err.Error(), p.fix
		d.failed = true
		d.rep.Problem = p.code
		d.rep.Verdict = p.verdict
	}
	if s.Status == statusOK && detail == "" {
		s.Detail = "ok"
	}
	s.Detail, s.Fix = d.scrub(s.Detail), d.scrub(s.Fix)
	d.rep.Verdict = d.scrub(d.rep.Verdict)
	d.rep.Steps = append(d.rep.Steps, s)
	return err == nil
}

// skip records a step that was not needed or could not run.
func (d *doctor) skip(name, why string) {
	d.rep.Steps = append(d.rep.Steps, doctorStep{Name: name, Status: statusSkip, Detail: why})
}

// scrub removes every secret of the configuration from s: errors of
// clients and brokers are not trusted to have left them out.
func (d *doctor) scrub(s string) string { return d.secrets.scrub(s) }

// config resolves the configuration as the library does and validates it
// with the adapter's own rules, without connecting.
func (d *doctor) config(url, file string) (string, error) {
	var (
		cfg herald.Config
		err error
	)
	switch {
	case url != "":
		d.rep.Source = "-url"
		cfg, err = herald.Resolve(url)
	case file != "":
		d.rep.Source = "-config " + file
		cfg, err = herald.LoadFile(file)
	default:
		d.rep.Source = envSource()
		cfg, err = herald.Resolve("")
	}
	d.setSecrets(cfg, url)
	d.rep.Target = d.scrub(cfg.String())
	if err != nil {
		d.rep.Target = "(invalid)"
		return "", err
	}
	d.cfg = cfg
	a, err := adapters.Lookup(cfg.Scheme)
	if err != nil {
		return "", err
	}
	if v, ok := a.(adapters.Validator); ok {
		if err := v.Validate(cfg); err != nil {
			return "", err
		}
	}
	d.addrs = brokerAddrs(cfg)
	detail := fmt.Sprintf("%s: options valid", cfg.Scheme)
	if len(d.addrs) > 0 {
		detail += ", brokers " + strings.Join(d.addrs, ", ")
	}
	if cfg.Group != "" {
		detail += fmt.Sprintf("; group %q is not joined (the probe consumes without a group so as not to disturb it)", cfg.Group)
	}
	return detail, nil
}

// setSecrets collects the values to keep out of the report.
func (d *doctor) setSecrets(cfg herald.Config, url string) {
	d.secrets.addConfig(cfg)
	d.secrets.addURL(url)
}

// envSource names where an empty -url takes the configuration from.
func envSource() string {
	switch {
	case os.Getenv(herald.EnvConfig) != "":
		return herald.EnvConfig + "=" + os.Getenv(herald.EnvConfig)
	case os.Getenv(herald.EnvURL) != "":
		return herald.EnvURL
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HERALD_") && !strings.HasPrefix(kv, "HERALD_TEST_") && !strings.HasPrefix(kv, "HERALD_REQUIRE_BROKERS=") {
			return "HERALD_* variables"
		}
	}
	return "the default, " + herald.DefaultTarget + " (no -url, " + herald.EnvURL + " or " + herald.EnvConfig + ")"
}

// defaultPorts are the ports the adapters add to a host without one.
var defaultPorts = map[string]string{"kafka": "9092", "amqp": "5672", "amqps": "5671", "nats": "4222"}

// brokerAddrs returns the host:port of each broker, with the adapters'
// default port and host.
func brokerAddrs(cfg herald.Config) []string {
	port, ok := defaultPorts[cfg.Scheme]
	if !ok {
		return nil
	}
	hosts := cfg.Hosts
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1"}
	}
	addrs := make([]string, 0, len(hosts))
	for _, h := range hosts {
		if _, _, err := net.SplitHostPort(h); err == nil {
			addrs = append(addrs, h)
			continue
		}
		addrs = append(addrs, net.JoinHostPort(strings.Trim(h, "[]"), port))
	}
	return addrs
}

// dns resolves every broker's host name.
func (d *doctor) dns(ctx context.Context) (string, error) {
	var found []string
	for _, a := range d.addrs {
		host, _, _ := net.SplitHostPort(a)
		if net.ParseIP(host) != nil {
			found = append(found, host+" is an IP address")
			continue
		}
		ips, err := net.DefaultResolver.LookupHost(ctx, host)
		if err != nil {
			return "", err
		}
		found = append(found, fmt.Sprintf("%s -> %s", host, strings.Join(ips, " ")))
	}
	return strings.Join(found, "; "), nil
}

// tcp connects to every broker. One broker down of several is reported
// but does not fail the step: the clients use the others.
func (d *doctor) tcp(ctx context.Context) (string, error) {
	var ok, down []string
	var firstErr error
	for _, a := range d.addrs {
		start := time.Now()
		var dl net.Dialer
		c, err := dl.DialContext(ctx, "tcp", a)
		if err != nil {
			down = append(down, a)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		c.Close()
		ok = append(ok, fmt.Sprintf("%s accepts connections (%s)", a, time.Since(start).Round(time.Microsecond)))
	}
	if len(ok) == 0 {
		return "", firstErr
	}
	detail := strings.Join(ok, "; ")
	if len(down) > 0 {
		detail += fmt.Sprintf("; NOT reachable: %s (%v)", strings.Join(down, ", "), firstErr)
	}
	return detail, nil
}

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
