package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/heraldkit/herald"
)

// connect opens a Sarama client to the brokers through g and conf (built
// on g). It honours ctx: when ctx ends first, g is aborted, which makes
// Sarama give up at once, and the error wraps ctx.Err(). A failure is
// explained where possible (see explain).
func connect(ctx context.Context, s settings, g *netGuard, conf *sarama.Config) (sarama.Client, error) {
	type result struct {
		client sarama.Client
		err    error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := sarama.NewClient(s.brokers, conf)
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, explain(ctx, s, g, r.err)
		}
		return r.client, nil
	case <-ctx.Done():
		g.abort() // Sarama's dials fail and its backoffs are zero: NewClient returns at once
		if r := <-ch; r.client != nil {
			_ = r.client.Close()
		}
		return nil, ctxError(ctx, nil)
	}
}

// openError formats a failed Open.
func openError(what string, s settings, err error) error {
	return fmt.Errorf("herald/kafka: open %s on %v: %w", what, s.brokers, err)
}

// probeTimeout bounds each connection attempt explain makes.
const probeTimeout = 5 * time.Second

// explain turns Sarama's "run out of available brokers" into the likely
// cause: SASL, or TLS, that the listener does not speak. It connects to
// the first broker again, with the settings and without the suspect one,
// to find out, and adds the broker's own error. Without a better
// explanation the brokers are unreachable: the error then wraps
// herald.ErrUnreachable.
func explain(ctx context.Context, s settings, g *netGuard, err error) error {
	if !errors.Is(err, sarama.ErrOutOfBrokers) {
		return err
	}
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
	}
	cause := probeBroker(ctx, s)
	var kerr sarama.KError
	switch {
	case cause != nil && errors.As(cause, &kerr):
		// The broker answered with an error (a failed SASL
		// authentication, for one): not a reachability problem.
		return fmt.Errorf("%w: %s: %w", err, addr, cause)
	case cause == nil || strings.Contains(err.Error(), cause.Error()):
		return fmt.Errorf("%w: %w", herald.ErrUnreachable, err)
	default:
		return fmt.Errorf("%w: %w: %s: %w", herald.ErrUnreachable, err, addr, cause)
	}
}

// probeBroker connects to the first broker with s and asks for metadata,
// within ctx and probeTimeout. It returns the broker's error, nil when it
// answered.
func probeBroker(ctx context.Context, s settings) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	g := newNetGuard(probeTimeout, 0)
	defer g.abort()
	defer g.abortOn(ctx)()
	conf := s.saramaConfig(g)
	conf.Net.ReadTimeout = probeTimeout
	b := sarama.NewBroker(s.brokers[0])
	if err := b.Open(conf); err != nil {
		return err
	}
	defer func() { _ = b.Close() }()
	if ok, err := b.Connected(); !ok {
		if err == nil {
			err = sarama.ErrNotConnected
		}
		return err
	}
	_, err := b.GetMetadata(sarama.NewMetadataRequest(conf.Version, nil))
	return err
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
