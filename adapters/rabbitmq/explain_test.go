package rabbitmq

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// tlsListener serves TLS with a fresh self-signed certificate and
// nothing else: it stands for a broker's TLS port.
func tlsListener(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_ = c.(*tls.Conn).Handshake()
				buf := make([]byte, 64)
				_, _ = c.Read(buf)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestPlainToTLSPort: amqp:// to a TLS port says TLS is expected.
func TestPlainToTLSPort(t *testing.T) {
	addr := tlsListener(t)
	_, err := Driver{}.OpenTopic(t.Context(), mustConfig(t, "amqp://guest:guest@"+addr+"/?connect_timeout=2s"), adapters.Env{})
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "expects TLS") || !strings.Contains(err.Error(), "amqps://") ||
		!strings.HasPrefix(err.Error(), "herald/amqp: ") {
		t.Fatalf("error %v; want a herald/amqp error saying the port expects TLS (amqps://)", err)
	}
}

// TestTLSToPlainPort: amqps:// to the plain AMQP port says the port does
// not speak TLS.
func TestTLSToPlainPort(t *testing.T) {
	u, err := url.Parse(brokerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Driver{}.OpenTopic(t.Context(), mustConfig(t, "amqps://guest:guest@"+u.Host+"/?tls_insecure_skip_verify=true&connect_timeout=2s"), adapters.Env{})
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "does not speak TLS") || !strings.HasPrefix(err.Error(), "herald/amqps: ") {
		t.Fatalf("error %v; want a herald/amqps error saying the port does not speak TLS", err)
	}
}

// TestHeaderTooLarge: a message whose headers do not fit in one frame is
// refused at once (not taken, KindTooLarge), a header name over 255
// bytes too (KindInvalid), and the connection stays up for the other
// messages.
func TestHeaderTooLarge(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic) })
	tp := openTopicT(t, url)
	if err := sendWait(t, tp, t.Context(), topic, newMsg("first")); err != nil {
		t.Fatal(err)
	}
	var before *amqp.Connection
	if !tp.As(&before) {
		t.Fatal("As(**amqp091.Connection)")
	}
	big := newMsg("big")
	big.Metadata.Set("x-big", strings.Repeat("h", 1<<20))
	start := time.Now()
	err := tp.Send(t.Context(), topic, big, adapters.SendOptions{}, func(error) { t.Error("done called for a message not taken") })
	if err == nil || !strings.Contains(err.Error(), "frame_max") || !strings.Contains(err.Error(), big.UUID) ||
		!strings.HasPrefix(err.Error(), `herald/amqp: publish to "`+topic+`": `) {
		t.Fatalf("error %v; want one naming the message and frame_max", err)
	}
	kindIs(t, "headers over frame_max", err, herald.KindTooLarge)
	if d := time.Since(start); d > time.Second {
		t.Errorf("refused after %v, want at once", d)
	}
	long := newMsg("long key")
	long.Metadata.Set(strings.Repeat("k", 300), "v")
	err = tp.Send(t.Context(), topic, long, adapters.SendOptions{}, func(error) { t.Error("done called for a message not taken") })
	if err == nil || !strings.Contains(err.Error(), "255") {
		t.Errorf("a 300-byte header name: %v; want an error naming AMQP's 255-byte limit", err)
	}
	kindIs(t, "a 300-byte header name", err, herald.KindInvalid)
	if err := sendWait(t, tp, t.Context(), topic, newMsg("after")); err != nil {
		t.Fatalf("publish after the refused one: %v", err)
	}
	var after *amqp.Connection
	if !tp.As(&after) || after != before || after.IsClosed() {
		t.Error("the publisher's connection was replaced or closed")
	}
}

// TestChannelLossClassified: what a message unconfirmed on a channel the
// broker closed is told: too large for the message the channel closed
// over (and the limit is checked before sending from then on), an
// unknown outcome for the others and for a lost connection, denied for a
// refused permission.
func TestChannelLossClassified(t *testing.T) {
	tp := &topic{s: &settings{scheme: "amqp", user: "ro", vhost: "/"}}
	lost := func(e *amqp.Error, size int) error {
		c := &confirmChan{t: tp, closes: make(chan *amqp.Error, 1)}
		if e != nil {
			c.closes <- e
		} else {
			close(c.closes)
		}
		return c.lost(&outgoing{m: newMsg("x"), pub: amqp.Publishing{Body: make([]byte, size)}})
	}
	tooLarge := &amqp.Error{Code: amqp.PreconditionFailed, Server: true, Recover: true,
		Reason: "PRECONDITION_FAILED - message size 2000 is larger than configured max size 1000"}
	err := lost(tooLarge, 2000)
	if !strings.Contains(err.Error(), "2000 bytes") || !strings.Contains(err.Error(), "max_message_size of 1000") {
		t.Errorf("the large message: %v; want its size and the limit", err)
	}
	kindIs(t, "the large message", opError("amqp", opPublish, "t", err), herald.KindTooLarge)
	kindIs(t, "another message on the channel", opError("amqp", opPublish, "t", lost(tooLarge, 10)), herald.KindOutcomeUnknown)
	if err := checkPublishing(amqp.Publishing{Body: make([]byte, 1001)}, 0, tp.maxSize.Load()); err == nil || !strings.Contains(err.Error(), "max_message_size of 1000") {
		t.Errorf("checked before sending: %v", err)
	}
	absolute := &amqp.Error{Code: amqp.PreconditionFailed, Server: true, Recover: true,
		Reason: "PRECONDITION_FAILED - message size 600000000 is larger than max size 536870912"}
	if _, limit, ok := refusedSize(absolute); !ok || limit != 536870912 {
		t.Errorf("RabbitMQ's wording at its absolute limit not recognised: %d %v", limit, ok)
	}
	denied := &amqp.Error{Code: amqp.AccessRefused, Server: true, Recover: true, Reason: "ACCESS_REFUSED - access to exchange 'x' refused"}
	err = lost(denied, 10)
	if !strings.Contains(err.Error(), `permission denied to publish (write to the exchange) for user "ro"`) {
		t.Errorf("a refused permission: %v", err)
	}
	kindIs(t, "a refused permission", opError("amqp", opPublish, "t", err), herald.KindDenied)
	kindIs(t, "a lost connection", opError("amqp", opPublish, "t", lost(&amqp.Error{Code: amqp.FrameError, Reason: "EOF"}, 10)), herald.KindOutcomeUnknown)
	kindIs(t, "a closed connection", opError("amqp", opPublish, "t", lost(nil, 10)), herald.KindOutcomeUnknown)
}
