package tlsopt

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"
)

// ProbeTimeout bounds SpeaksTLS when ctx has a later deadline or none.
const ProbeTimeout = 2 * time.Second

// SpeaksTLS reports whether the server at addr answers a TLS ClientHello:
// the handshake completes, or the server ends it with an alert (it wants
// a client certificate). The certificate is not checked and nothing is
// sent after the handshake: it tells a TLS port from a plaintext one,
// after a plaintext connection failed. dial is the dialer to use (nil:
// TCP), within ctx and ProbeTimeout.
func SpeaksTLS(ctx context.Context, addr string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) bool {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	raw, err := dial(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer raw.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(deadline)
	}
	host, _, _ := net.SplitHostPort(addr)
	c := tls.Client(raw, &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true, ServerName: host}) //nolint:gosec // a probe: nothing is sent
	err = c.HandshakeContext(ctx)
	if err == nil {
		return true
	}
	_, alert := remoteAlert(err)
	var a tls.AlertError
	return alert || errors.As(err, &a)
}
