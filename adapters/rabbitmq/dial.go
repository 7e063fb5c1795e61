package rabbitmq

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"syscall"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/tlsopt"
)

// dialFrom tries the hosts in order, starting at index start and wrapping
// around, and returns the first connection made and its host's index.
// With one host its error is that host's; with several it names each
// host's failure.
func dialFrom(ctx context.Context, s *settings, start int) (*amqp.Connection, int, error) {
	var errs []error
	for i := range s.hosts {
		idx := (start + i) % len(s.hosts)
		conn, err := dialHost(ctx, s, s.hosts[idx])
		if err == nil {
			return conn, idx, nil
		}
		if len(s.hosts) == 1 {
			return nil, 0, connectError(s, err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", s.hosts[idx], err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, 0, connectError(s, errors.Join(errs...))
}

// dialHost connects to host and performs the TLS and AMQP handshakes,
// each bounded by connect_timeout and by ctx: when ctx ends the socket is
// closed, which interrupts whichever handshake is waiting. Errors name
// the likely cause where the client's own error does not.
func dialHost(ctx context.Context, s *settings, host string) (*amqp.Connection, error) {
	d := net.Dialer{Timeout: s.dialTimeout}
	raw, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		if ctx.Err() != nil {
			return nil, unreachable(ctx, err)
		}
		return nil, withKind(herald.KindUnreachable, err)
	}
	// connect_timeout bounds the handshakes (amqp.Open clears the deadline
	// once connected); ctx ending closes the socket.
	_ = raw.SetDeadline(time.Now().Add(s.dialTimeout))
	stop := context.AfterFunc(ctx, func() { _ = raw.Close() })

	conn, err := handshake(ctx, s, raw, host)
	if !stop() || ctx.Err() != nil {
		// ctx ended: the socket is closed or about to be.
		if err == nil {
			_ = conn.Close()
		}
		return nil, unreachable(ctx, err)
	}
	if err != nil {
		_ = raw.Close()
		return nil, explainDial(ctx, s, host, err)
	}
	return conn, nil
}

// handshake runs TLS (amqps) and the AMQP handshake on raw, connected to
// host.
func handshake(ctx context.Context, s *settings, raw net.Conn, host string) (*amqp.Connection, error) {
	cfg := s.amqpConfig
	// amqp091 adds to the properties table while it opens: one copy each.
	cfg.Properties = maps.Clone(s.amqpConfig.Properties)
	var nc net.Conn = raw
	if s.scheme == "amqps" {
		// Each node is verified against its own name, unless
		// tls_server_name names one for all.
		tconn := tls.Client(raw, s.tls.For(host))
		if err := tconn.HandshakeContext(ctx); err != nil {
			return nil, err
		}
		nc = tconn
	}
	conn, err := amqp.Open(nc, cfg)
	if err != nil {
		if conn != nil && !conn.IsClosed() {
			_ = conn.Close()
		}
		return nil, err
	}
	return conn, nil
}

// explainDial adds the likely cause to a failed handshake, and its kind:
// refused credentials, certificate or vhost (KindDenied: waiting does not
// fix them), TLS on one side only (a wrong URL: KindInvalid), or a broker
// that is not there (KindUnreachable). TLS failures are diagnosed by
// internal/tlsopt, as on every backend.
func explainDial(ctx context.Context, s *settings, host string, err error) error {
	switch d := tlsopt.Diagnose(err, s.tls); {
	case errors.Is(err, amqp.ErrCredentials):
		return withKind(herald.KindDenied, fmt.Errorf("authentication failed for user %q (check the password): %w", s.user, err))
	case s.scheme == "amqps" && d != nil:
		return withKind(d.Kind(), d)
	case errors.Is(err, amqp.ErrVhost):
		return withKind(herald.KindDenied, fmt.Errorf("vhost %q does not exist or the user may not access it: %w", s.vhost, err))
	case errors.Is(err, amqp.ErrSASL):
		return withKind(herald.KindDenied, fmt.Errorf("the broker offers no PLAIN authentication: %w", err))
	case s.scheme == "amqp" && !isTimeout(err) && tlsopt.SpeaksTLS(ctx, host, nil):
		// It costs a connection, made only after a failed amqp://
		// handshake.
		d := tlsopt.TLSServerError(s.scheme, err)
		return withKind(d.Kind(), d)
	case isNetworkError(err):
		return withKind(herald.KindUnreachable, err)
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isNetworkError reports whether err comes from the network (refused,
// reset, timed out, closed) rather than from the broker.
func isNetworkError(err error) bool {
	var ne net.Error
	var ae *amqp.Error
	switch {
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, net.ErrClosed):
		return true
	case errors.As(err, &ae):
		return !ae.Server
	}
	return false
}
