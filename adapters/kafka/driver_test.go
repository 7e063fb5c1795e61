package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// TestRegisteredAndCapabilities: the driver is registered for kafka and
// declares what the facade relies on.
func TestRegisteredAndCapabilities(t *testing.T) {
	d, err := adapters.Lookup("kafka")
	if err != nil {
		t.Fatal(err)
	}
	caps := d.Capabilities(mustParse(t, "kafka://k1?max_message_bytes=4096&group=g"))
	want := adapters.Capabilities{
		Durable: true, Groups: true, Redelivery: adapters.RedeliverLocal, NackDelay: false, CountsAttempts: false,
		Order: adapters.OrderKey, MaxMessageSize: 4096, DefaultWindow: 256,
		Request: adapters.RequestCaps{Path: adapters.RequestReplyTopic}, Timestamps: true, Properties: adapters.PropertyCaps{Time: true},
	}
	if caps != want {
		t.Errorf("Capabilities = %+v; want %+v", caps, want)
	}
}

// silentListener accepts connections and never answers.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// TestOpenHonoursContext: opening against a listener that accepts and
// never answers returns when the context ends, with KindUnreachable and
// the context's error.
func TestOpenHonoursContext(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, "kafka://"+silentListener(t))
	open := map[string]func(context.Context) error{
		"topic": func(ctx context.Context) error {
			_, err := Driver{}.OpenTopic(ctx, cfg, adapters.Env{})
			return err
		},
		"subscription": func(ctx context.Context) error {
			_, err := Driver{}.OpenSubscription(ctx, cfg, adapters.Env{})
			return err
		},
	}
	for name, fn := range open {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const d = 2 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			start := time.Now()
			err := fn(ctx)
			if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, herald.ErrUnreachable) {
				t.Fatalf("open: %v; want ErrUnreachable wrapping context.DeadlineExceeded", err)
			}
			if took := time.Since(start); took > d+time.Second {
				t.Errorf("open returned %v after its %v context ended", took-d, d)
			}
		})
	}
}

// holdOne opens a group member on topic that holds one record unsettled:
// a new member's join then waits for its revoke (up to revokeWait).
func holdOne(t *testing.T, target, topic, group string) {
	t.Helper()
	a := openStream(t, openSubscription(t, withQuery(target, "group="+group)), topic, 16, nil)
	sendSync(t, openTopic(t, target), topic, herald.NewMessage([]byte("held")))
	r := receiveN(t, a, 1, 30*time.Second)[0]
	t.Cleanup(func() { a.Ack(r.Token) })
}

// TestOpenHonoursContextAndClose: an Open waiting for its group to
// assign partitions returns when its context ends, or when the
// subscription is closed, and Close does not wait for the join.
func TestOpenHonoursContextAndClose(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic, group := uniqueName("join"), uniqueName("g")
	holdOne(t, target, topic, group)

	t.Run("context", func(t *testing.T) {
		sub := openSubscription(t, withQuery(target, "group="+group))
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := sub.Open(ctx, topic, adapters.StreamOptions{Window: 1, Status: func(error) {}})
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Open returned %v after its context was cancelled at 100ms", took)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `herald/kafka: subscribe to "`+topic+`"`) {
			t.Errorf("Open: %v; want herald/kafka: subscribe to %q: ... wrapping DeadlineExceeded", err, topic)
		}
		start = time.Now()
		if err := sub.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Close took %v after an Open gave up joining", took)
		}
	})
	t.Run("close", func(t *testing.T) {
		sub := openSubscription(t, withQuery(target, "group="+group))
		done := make(chan error, 1)
		go func() {
			_, err := sub.Open(context.Background(), topic, adapters.StreamOptions{Window: 1, Status: func(error) {}})
			done <- err
		}()
		time.Sleep(50 * time.Millisecond) // let it start joining; Close must work at any point
		start := time.Now()
		if err := sub.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Close took %v while an Open was joining", took)
		}
		select {
		case err := <-done:
			if !errors.Is(err, herald.ErrClosed) {
				t.Errorf("Open interrupted by Close: %v; want ErrClosed", err)
			}
		case <-time.After(2 * time.Second):
			t.Error("Open did not return after Close")
		}
	})
}

// TestMethodsAfterClose: every method called after Close returns a
// *herald.Error of KindClosed naming the topic; closing twice is fine.
func TestMethodsAfterClose(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic := uniqueName("closed")
	tp := openTopic(t, target)
	sub := openSubscription(t, withQuery(target, "group="+uniqueName("g")))
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := tp.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := sub.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, err error) {
		t.Helper()
		var he *herald.Error
		if !errors.As(err, &he) || he.Kind != herald.KindClosed || he.Topic != topic || !strings.HasPrefix(err.Error(), "herald/kafka: ") {
			t.Errorf("%s after Close: %v; want a *herald.Error of KindClosed for %q", what, err, topic)
		}
	}
	check("Send", tp.Send(ctx, topic, herald.NewMessage(nil), adapters.SendOptions{}, func(error) { t.Error("done called") }))
	_, err := sub.Open(ctx, topic, adapters.StreamOptions{Window: 1, Status: func(error) {}})
	check("Open", err)
	check("Prepare", sub.Prepare(ctx, topic))
}

// TestNamesWithSeparators: topics and groups whose names differ only by a
// separator are distinct on Kafka. A topic name Kafka refuses fails at
// once, saying why.
func TestNamesWithSeparators(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	base := uniqueName("sep")
	topics := []string{base + ".a-b", base + ".a.b", base + "-a.b"}
	groups := []string{base + ".g.x", base + ".g_x", base + ".g-x"}
	remember(topics...)
	remember(groups...)
	tp := openTopic(t, target)
	streams := map[[2]string]*stream{}
	for _, topic := range topics {
		for _, g := range groups {
			streams[[2]string{topic, g}] = openStream(t, openSubscription(t, withQuery(target, "group="+g)), topic, 4, nil)
		}
	}
	for _, topic := range topics {
		sendSync(t, tp, topic, herald.NewMessage([]byte(topic)))
	}
	for k, st := range streams {
		if got := receiveN(t, st, 1, 30*time.Second)[0]; string(got.Msg.Payload) != k[0] {
			t.Errorf("group %q on topic %q got the message of topic %q", k[1], k[0], got.Msg.Payload)
		}
	}
	for _, st := range streams {
		receiveNone(t, st, 100*time.Millisecond)
	}
	err := tp.Send(context.Background(), base+"/a", herald.NewMessage(nil), adapters.SendOptions{}, func(error) {})
	if !errors.Is(err, herald.ErrInvalid) || !strings.Contains(err.Error(), "not a valid Kafka topic name") {
		t.Errorf("send to an invalid topic name: %v; want ErrInvalid, explained", err)
	}
}

// TestSecurityMismatchExplained: SASL or TLS against the shared plaintext
// listener fails with an error that names the likely cause.
func TestSecurityMismatchExplained(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	host := strings.TrimPrefix(target, "kafka://")
	cases := map[string]struct{ url, want string }{
		"sasl=plain":         {"kafka://u:p@" + host + "?sasl=plain", "does not use SASL"},
		"sasl=scram-sha-512": {"kafka://u:p@" + host + "?sasl=scram-sha-512", "does not use SASL"},
		"tls":                {target + "?tls=true", "does not speak TLS on this port"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := Driver{}.OpenTopic(ctx, mustParse(t, c.url), adapters.Env{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("open with %s against a plaintext listener: %v; want it to say it %s", name, err, c.want)
			}
			if !errors.Is(err, herald.ErrInvalid) || strings.Contains(err.Error(), ":p@") {
				t.Errorf("error %q: want ErrInvalid (a setting the listener does not speak), and no password", err)
			}
		})
	}
}

// tlsListener is a TLS server with a self-signed certificate that
// completes handshakes and says nothing else, as a Kafka SSL listener
// looks to a plaintext client.
func tlsListener(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
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
				_, _ = io.Copy(io.Discard, c) // handshakes, then reads until the client gives up
			}()
		}
	}()
	return ln.Addr().String()
}

// TestPlaintextToTLSListenerExplained: a plaintext client of a TLS
// listener is told to turn TLS on.
func TestPlaintextToTLSListenerExplained(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	_, err := Driver{}.OpenTopic(ctx, mustParse(t, "kafka://"+tlsListener(t)), adapters.Env{})
	if err == nil || !strings.Contains(err.Error(), "expects TLS on this port (add tls=true") {
		t.Fatalf("plaintext to a TLS listener: %v; want it to say so", err)
	}
}

// TestAs: the Topic and the Subscription give their franz-go clients.
func TestAs(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	for name, as := range map[string]func(any) bool{
		"topic":        openTopic(t, target).As,
		"subscription": openSubscription(t, target).As,
	} {
		var cl *kgo.Client
		var adm *kadm.Client
		var other *int
		if !as(&cl) || cl == nil || !as(&adm) || adm == nil || as(&other) {
			t.Errorf("%s: As(**kgo.Client) %v, As(**kadm.Client) %v, As(**int) true", name, cl != nil, adm != nil)
		}
	}
}
