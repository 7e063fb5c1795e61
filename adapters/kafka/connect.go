package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
)

// connect opens a franz-go client to the brokers through g, with opts
// added to the shared ones, and checks that a broker answers (the
// handshake, TLS and SASL included). It honours ctx: when ctx ends first
// the error wraps ctx.Err(). A failure is explained where possible (see
// explain).
func connect(ctx context.Context, s settings, g *netGuard, opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append(s.clientOpts(g), opts...)...)
	if err != nil {
		return nil, err
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		if ctx.Err() != nil {
			return nil, ctxError(ctx, nil)
		}
		return nil, explain(ctx, s, g, err)
	}
	return cl, nil
}

// openError formats a failed Open.
func openError(what string, s settings, err error) error {
	return fmt.Errorf("herald/kafka: open %s on %v: %w", what, s.brokers, err)
}

// probeTimeout bounds each connection attempt explain makes.
const probeTimeout = 5 * time.Second

// explain turns a failed connection into the likely cause: SASL, or TLS,
// that the listener does not speak. It connects to the first broker again,
// without the suspect setting, to find out, and adds the broker's own
// error. Without a better explanation the brokers are unreachable: the
// error then wraps herald.ErrUnreachable.
func explain(ctx context.Context, s settings, g *netGuard, err error) error {
	addr := s.brokers[0]
	without := func(withSASL, withTLS bool) error {
		p := s
		if !withSASL {
			p.sasl = ""
		}
		if !withTLS {
			p.tls = nil
		}
		return probeBroker(ctx, p)
	}
	var ke *kerr.Error
	switch {
	case s.sasl != "" && without(false, s.tls != nil) == nil:
		return fmt.Errorf("SASL (%s) failed: the listener at %s answers without SASL, so it probably does not use SASL: "+
			"remove the sasl option, or use the port of the broker's SASL_PLAINTEXT or SASL_SSL listener: %w", s.sasl, addr, err)
	case s.tls != nil && without(s.sasl != "", false) == nil:
		return fmt.Errorf("TLS handshake failed: the listener at %s answers in plaintext, so it does not use TLS: "+
			"remove the tls options, or use the port of the broker's SSL or SASL_SSL listener: %w", addr, err)
	case s.tls == nil && (g.sawTLS.Load() || speaksTLS(ctx, addr)):
		return fmt.Errorf("the listener at %s answers with TLS: add tls=true (and tls_ca when its certificate is not "+
			"signed by a system CA): %w", addr, err)
	case errors.As(err, &ke):
		// The broker answered with an error (a failed SASL
		// authentication, for one): not a reachability problem.
		return fmt.Errorf("%s: %w", addr, err)
	default:
		return fmt.Errorf("%w: %w", herald.ErrUnreachable, err)
	}
}

// probeBroker connects to the first broker with s and checks that it
// answers, within ctx and probeTimeout. It returns the broker's error, nil
// when it answered.
func probeBroker(ctx context.Context, s settings) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	g := newNetGuard(probeTimeout, 0)
	defer g.abort()
	p := s
	p.brokers = s.brokers[:1]
	cl, err := kgo.NewClient(p.clientOpts(g)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return cl.Ping(ctx)
}

// speaksTLS reports whether addr completes a TLS handshake (certificate
// not checked: only the protocol matters), within ctx and probeTimeout.
func speaksTLS(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}} //nolint:gosec // a probe: nothing is sent
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}
