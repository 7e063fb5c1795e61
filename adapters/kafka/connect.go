package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/tlsopt"
)

// connect opens a franz-go client to the brokers through g, with opts
// added to the shared ones, and checks that a broker answers (the
// handshake, TLS and SASL included). It honours ctx: when ctx ends first
// the error is KindUnreachable and wraps context.Cause(ctx). A failure is
// explained where possible (see explain). what names the client in the
// error ("publisher", "subscriber").
func connect(ctx context.Context, what string, s settings, g *netGuard, opts ...kgo.Opt) (*kgo.Client, error) {
	op := fmt.Sprintf("open %s on %v", what, s.brokers)
	cl, err := kgo.NewClient(append(s.clientOpts(g), opts...)...)
	if err != nil {
		return nil, newError(op, "", herald.KindInvalid, err)
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		if ctx.Err() != nil {
			return nil, newError(op, "", herald.KindUnreachable, ctxErr(ctx, g.lastDialError()))
		}
		kind, err := explain(ctx, s, g, err)
		return nil, newError(op, "", kind, err)
	}
	return cl, nil
}

// probeTimeout bounds each connection attempt explain makes.
const probeTimeout = 5 * time.Second

// explain turns a failed connection into the likely cause and its kind:
// SASL, or TLS, that the listener does not speak (KindInvalid), a
// certificate or credentials refused (KindDenied). It connects to the
// first broker again, without the suspect setting, to find out, and adds
// the broker's own error. Without a better explanation the brokers are
// unreachable (KindUnreachable). TLS failures are diagnosed by
// internal/tlsopt, as on every backend.
func explain(ctx context.Context, s settings, g *netGuard, err error) (herald.Kind, error) {
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
	d := tlsopt.Diagnose(err, s.tlsOpts)
	switch {
	case s.tls != nil && d != nil:
		// Certificates, not reachability: no probe can do better.
		return d.Kind(), fmt.Errorf("%s: %w", addr, d)
	case s.sasl != "" && errors.Is(err, kerr.SaslAuthenticationFailed):
		return herald.KindDenied, fmt.Errorf("%s: authentication failed for user %q (check the password; sasl=%s): %w", addr, s.username, s.sasl, err)
	case s.sasl != "" && without(false, s.tls != nil) == nil:
		return herald.KindInvalid, fmt.Errorf("SASL (%s) failed: the listener at %s answers without SASL, so it probably does not use SASL: "+
			"remove the sasl option, or use the port of the broker's SASL_PLAINTEXT or SASL_SSL listener: %w", s.sasl, addr, err)
	case s.tls != nil && without(s.sasl != "", false) == nil:
		// A Kafka listener closes a connection that starts with a TLS
		// ClientHello: only a plaintext connection tells.
		d := tlsopt.PlaintextServerError(s.tlsOpts.Scheme, err)
		return d.Kind(), fmt.Errorf("%s: %w", addr, d)
	case s.tls == nil && (g.sawTLS.Load() || tlsopt.SpeaksTLS(ctx, addr, nil)):
		d := tlsopt.TLSServerError(s.tlsOpts.Scheme, err)
		return d.Kind(), fmt.Errorf("%s: %w", addr, d)
	case errors.As(err, &ke):
		// The broker answered with an error: not a reachability problem.
		return kindOf(err), fmt.Errorf("%s: %w", addr, err)
	default:
		return herald.KindUnreachable, err
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
