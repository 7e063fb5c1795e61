package tlsopt

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
)

// connect makes a TLS connection to addr as a driver with s would, and
// exchanges a byte (a TLS 1.3 server refuses a client certificate after
// the client's handshake, on the first read).
func connect(t *testing.T, addr string, s Settings) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
	c := tls.Client(raw, s.For(addr))
	if err := c.HandshakeContext(ctx); err != nil {
		return err
	}
	if _, err := c.Write([]byte{'x'}); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil && !isTimeout(err) {
		return err
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func settings(t *testing.T, query string) Settings {
	t.Helper()
	s, err := Parse(mustParse(t, "kafka://h:9092?tls=true&"+query))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDiagnose: each way a handshake fails, against real TLS servers, is
// told apart, with a hint naming the option to set and the files used,
// and the client's error kept.
func TestDiagnose(t *testing.T) {
	ca := newPKI(t, "ca")
	wrong := newPKI(t, "wrong")
	good, _, _ := ca.leaf("server", leafOpts{ips: localhost})
	otherName, _, _ := ca.leaf("elsewhere", leafOpts{dns: []string{"elsewhere.example"}})
	expired, _, _ := ca.leaf("expired", leafOpts{ips: localhost, notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)})
	clientCert, _, _ := ca.leaf("notforservers", leafOpts{client: true, ips: localhost})
	_, cCert, cKey := ca.leaf("client", leafOpts{client: true})
	_, wCert, wKey := wrong.leaf("wrongclient", leafOpts{client: true})

	server := func(cert tls.Certificate, mtls bool, maxVersion uint16) string {
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: maxVersion}
		if mtls {
			cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, ca.pool()
		}
		return tlsServer(t, cfg)
	}
	plain := serve(t, func(c net.Conn) {
		_, _ = io.WriteString(c, "AMQP\x00\x00\x09\x01 this is not TLS at all, a plaintext protocol\r\n")
	})

	for _, c := range []struct {
		name     string
		addr     string
		query    string
		want     Problem
		kind     herald.Kind
		contains []string
	}{
		{"unknown authority, system roots", server(good, false, 0), "", UnknownAuthority, herald.KindDenied,
			[]string{"signed by unknown authority", "system roots", "set tls_ca"}},
		{"unknown authority, tls_ca", server(good, false, 0), "tls_ca=" + wrong.file, UnknownAuthority, herald.KindDenied,
			[]string{"signed by unknown authority", "tls_ca=" + wrong.file + " did not sign it"}},
		{"hostname", server(otherName, false, 0), "tls_ca=" + ca.file, HostnameMismatch, herald.KindDenied,
			[]string{"not valid for", "127.0.0.1", "tls_server_name"}},
		{"expired", server(expired, false, 0), "tls_ca=" + ca.file, Expired, herald.KindDenied,
			[]string{"expired", "clock"}},
		{"not a server certificate", server(clientCert, false, 0), "tls_ca=" + ca.file, BadCertificate, herald.KindDenied,
			[]string{"invalid"}},
		{"client certificate required, TLS 1.3", server(good, true, 0), "tls_ca=" + ca.file, ClientCertRequired, herald.KindDenied,
			[]string{"client certificate", "tls_cert and tls_key"}},
		{"client certificate required, TLS 1.2", server(good, true, tls.VersionTLS12), "tls_ca=" + ca.file, ClientCertRequired, herald.KindDenied,
			[]string{"client certificate", "tls_cert and tls_key"}},
		{"client certificate refused, TLS 1.3", server(good, true, 0), "tls_ca=" + ca.file + "&tls_cert=" + wCert + "&tls_key=" + wKey, ClientCertRefused, herald.KindDenied,
			[]string{"client certificate", "tls_cert=" + wCert}},
		{"client certificate refused, TLS 1.2", server(good, true, tls.VersionTLS12), "tls_ca=" + ca.file + "&tls_cert=" + wCert + "&tls_key=" + wKey, ClientCertRefused, herald.KindDenied,
			[]string{"client certificate", "tls_cert=" + wCert}},
		{"plaintext server", plain, "tls_ca=" + ca.file, PlaintextServer, herald.KindInvalid,
			[]string{"does not speak TLS", "remove tls=true"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := settings(t, c.query)
			err := connect(t, c.addr, s)
			if err == nil {
				t.Fatal("the connection succeeded")
			}
			d := Diagnose(err, s)
			if d == nil {
				t.Fatalf("Diagnose(%v) = nil", err)
			}
			if d.Problem != c.want || d.Kind() != c.kind {
				t.Errorf("Diagnose(%v) = %v (%v), want %v (%v)", err, d.Problem, d.Kind(), c.want, c.kind)
			}
			for _, w := range c.contains {
				if !strings.Contains(d.Error(), w) {
					t.Errorf("diagnosis %q does not mention %q", d.Error(), w)
				}
			}
			if !errors.Is(d, err) || !strings.HasPrefix(d.Error(), "TLS: ") {
				t.Errorf("diagnosis %q does not wrap the client's error", d)
			}
			var again *Error
			if wrapped := Diagnose(errors.Join(errors.New("x"), d), s); !errors.As(wrapped, &again) || again != d {
				t.Error("a diagnosed error is not returned as it is")
			}
		})
	}
	// The right configuration works against the same kind of server.
	if err := connect(t, server(good, true, 0), settings(t, "tls_ca="+ca.file+"&tls_cert="+cCert+"&tls_key="+cKey)); err != nil {
		t.Errorf("a trusted server with a trusted client certificate: %v", err)
	}
}

// TestDiagnoseOther: errors that are not about TLS are not diagnosed.
func TestDiagnoseOther(t *testing.T) {
	for _, err := range []error{nil, io.EOF, errors.New("connection refused"), context.DeadlineExceeded} {
		if d := Diagnose(err, Settings{}); d != nil {
			t.Errorf("Diagnose(%v) = %v", err, d)
		}
	}
	// An alert flattened to text is still recognised.
	if d := Diagnose(errors.New("read: remote error: tls: bad certificate"), Settings{Cert: "/c.pem"}); d == nil || d.Problem != ClientCertRefused {
		t.Errorf("flattened alert: %v", d)
	}
	if d := Diagnose(errors.New("remote error: tls: protocol version not supported"), Settings{}); d == nil || d.Problem != HandshakeRefused {
		t.Errorf("protocol version alert: %v", d)
	}
}

// TestHints: the hints of a mismatch name the scheme's way out.
func TestHints(t *testing.T) {
	for _, c := range []struct {
		e    *Error
		want string
	}{
		{PlaintextServerError("amqps", nil), "use amqp://"},
		{PlaintextServerError("nats", nil), "remove tls=true"},
		{TLSServerError("amqp", nil), "use amqps://"},
		{TLSServerError("kafka", nil), "add tls=true"},
		{ClientCertRequiredError(Settings{}, nil), "set tls_cert and tls_key"},
		{ClosedHandshakeError(Settings{Scheme: "kafka"}, nil), "does not speak TLS on this port: remove tls=true"},
		{ClosedHandshakeError(Settings{Scheme: "kafka"}, nil), "requires a client certificate"},
		{ClientCertRequiredError(Settings{Cert: "/c.pem"}, nil), "tls_cert=/c.pem"},
	} {
		if !strings.Contains(c.e.Error(), c.want) {
			t.Errorf("%q does not mention %q", c.e.Error(), c.want)
		}
	}
	if !strings.Contains(TLSServerError("amqp", nil).Error(), "expects TLS") || TLSServerError("amqp", nil).Kind() != herald.KindInvalid {
		t.Error("TLSServerError")
	}
}

// TestSpeaksTLS: a TLS port is told from a plaintext one and from a
// closed one.
func TestSpeaksTLS(t *testing.T) {
	ca := newPKI(t, "ca")
	good, _, _ := ca.leaf("server", leafOpts{ips: localhost})
	tlsAddr := tlsServer(t, &tls.Config{Certificates: []tls.Certificate{good}})
	mtlsAddr := tlsServer(t, &tls.Config{Certificates: []tls.Certificate{good}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.pool(), MaxVersion: tls.VersionTLS12})
	plain := serve(t, func(c net.Conn) { _, _ = io.WriteString(c, "INFO {}\r\n") })
	silent := serve(t, func(c net.Conn) { _, _ = c.Read(make([]byte, 1)) })
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	_ = ln.Close()
	for addr, want := range map[string]bool{tlsAddr: true, mtlsAddr: true, plain: false, closed: false} {
		if got := SpeaksTLS(t.Context(), addr, nil); got != want {
			t.Errorf("SpeaksTLS(%s) = %v, want %v", addr, got, want)
		}
	}
	start := time.Now()
	if SpeaksTLS(t.Context(), silent, nil) {
		t.Error("a silent server speaks TLS")
	}
	if took := time.Since(start); took > ProbeTimeout+time.Second {
		t.Errorf("the probe of a silent server took %v", took)
	}
}
