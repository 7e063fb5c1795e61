package kafka_test

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

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

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
// never answers returns when the context ends, with its error.
func TestOpenHonoursContext(t *testing.T) {
	t.Parallel()
	target := "kafka://" + silentListener(t)
	open := map[string]func(context.Context, string) (any, error){
		"publisher":  func(ctx context.Context, u string) (any, error) { return adapters.OpenPublisher(ctx, u) },
		"subscriber": func(ctx context.Context, u string) (any, error) { return adapters.OpenSubscriber(ctx, u) },
	}
	for name, fn := range open {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const d = 2 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			start := time.Now()
			_, err := fn(ctx, target)
			took := time.Since(start)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("open: %v; want an error wrapping context.DeadlineExceeded", err)
			}
			if took > d+time.Second {
				t.Errorf("open returned %v after its %v context ended", took-d, d)
			}
		})
	}
}

// holdOne subscribes a group member to topic, publishes one message and
// holds it unacked: a new member's join then waits for a rebalance that
// this member cannot finish (up to Sarama's 60 s rebalance timeout).
func holdOne(t *testing.T, target, topic, group string) {
	t.Helper()
	a := openSub(t, withQuery(target, "group="+group))
	ch := subscribe(t, a, topic)
	publish(t, openPub(t, target), topic, herald.NewMessage([]byte("held")))
	select {
	case m := <-ch:
		t.Cleanup(func() { m.Ack() })
	case <-time.After(30 * time.Second):
		t.Fatal("the first member got nothing")
	}
}

// TestSubscribeHonoursContextAndClose: a Subscribe waiting for its group
// to assign partitions returns when its context ends, or when the
// subscriber is closed, and Close does not wait for the join.
func TestSubscribeHonoursContextAndClose(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic, group := uniqueName("join"), uniqueName("g")
	holdOne(t, target, topic, group)

	t.Run("context", func(t *testing.T) {
		b, err := adapters.OpenSubscriber(context.Background(), withQuery(target, "group="+group))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = b.Subscribe(ctx, topic)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Subscribe returned %v after its context was cancelled at 100ms", took)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `herald/kafka: subscribe to "`+topic+`"`) {
			t.Errorf("Subscribe: %v; want herald/kafka: subscribe to %q: ... wrapping DeadlineExceeded", err, topic)
		}
		start = time.Now()
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Close took %v after a Subscribe gave up joining", took)
		}
	})
	t.Run("close", func(t *testing.T) {
		b, err := adapters.OpenSubscriber(context.Background(), withQuery(target, "group="+group))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := b.Subscribe(context.Background(), topic)
			done <- err
		}()
		// Let it start joining (a cooperative join takes a few hundred
		// milliseconds: the other member rejoins at its next heartbeat);
		// Close must work at any point.
		time.Sleep(50 * time.Millisecond)
		start := time.Now()
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Close took %v while a Subscribe was joining", took)
		}
		select {
		case err := <-done:
			if !errors.Is(err, herald.ErrClosed) {
				t.Errorf("Subscribe interrupted by Close: %v; want ErrClosed", err)
			}
		case <-time.After(2 * time.Second):
			t.Error("Subscribe did not return after Close")
		}
	})
}

// TestPublishContext: PublishContext honours its context, leaves the
// message's context alone, and fails at once for an error that waiting
// cannot fix.
func TestPublishContext(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic := uniqueName("pubctx")
	pub := openPub(t, withQuery(target, "max_message_bytes=2048")).(adapters.ContextPublisher)
	m := herald.NewMessage([]byte("x"))
	type key struct{}
	mctx := context.WithValue(context.Background(), key{}, 1)
	m.SetContext(mctx)
	if err := pub.PublishContext(context.Background(), topic, m); err != nil {
		t.Fatal(err)
	}
	if m.Context() != mctx {
		t.Error("PublishContext changed the message's context")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := pub.PublishContext(ctx, topic, herald.NewMessage([]byte("y"))); !errors.Is(err, context.Canceled) {
		t.Errorf("PublishContext with a cancelled context: %v; want context.Canceled", err)
	}

	big := herald.NewMessage(make([]byte, 4096))
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err := pub.PublishContext(ctx, topic, big)
	if err == nil || errors.Is(err, herald.ErrUnreachable) || time.Since(start) > 2*time.Second {
		t.Errorf("publishing a message over max_message_bytes: %v after %v; want an error at once", err, time.Since(start))
	}
	if err != nil && !strings.Contains(err.Error(), `herald/kafka: publish to "`+topic+`"`) {
		t.Errorf("error %q does not name the backend, operation and topic", err)
	}
}

// TestMethodsAfterClose: every method called after Close returns an error
// wrapping ErrClosed that names the topic.
func TestMethodsAfterClose(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic := uniqueName("closed")
	pub, err := adapters.OpenPublisher(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := adapters.OpenSubscriber(context.Background(), withQuery(target, "group="+uniqueName("g")))
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, herald.ErrClosed) || !strings.Contains(err.Error(), `"`+topic+`"`) ||
			!strings.HasPrefix(err.Error(), "herald/kafka: ") {
			t.Errorf("%s after Close: %v; want herald/kafka: ... %q: wrapping ErrClosed", what, err, topic)
		}
	}
	check("Publish", pub.Publish(topic, herald.NewMessage([]byte("x"))))
	check("PublishContext", pub.(adapters.ContextPublisher).PublishContext(context.Background(), topic, herald.NewMessage([]byte("x"))))
	_, err = sub.Subscribe(context.Background(), topic)
	check("Subscribe", err)
	check("SubscribeInitialize", sub.(message.SubscribeInitializer).SubscribeInitialize(topic))
}

// TestNackDelayDoesNotHoldClose: Close does not wait for a nack delay.
func TestNackDelayDoesNotHoldClose(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic := uniqueName("nackclose")
	sub, err := adapters.OpenSubscriber(context.Background(), withQuery(target, "group="+uniqueName("g")))
	if err != nil {
		t.Fatal(err)
	}
	ch := subscribe(t, sub, topic)
	publish(t, openPub(t, target), topic, herald.NewMessage([]byte("n")))
	m := <-ch
	setNackDelay(m, time.Minute)
	m.Nack()
	start := time.Now()
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Close took %v with a message held for a 1 minute nack delay", took)
	}
}

// TestNamesWithSeparators: topics and groups whose names differ only by a
// separator are distinct on Kafka: each group gets every message of its
// topic and nothing of the others. A topic name Kafka refuses fails at
// once, saying why.
func TestNamesWithSeparators(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	base := uniqueName("sep")
	topics := []string{base + ".a-b", base + ".a.b", base + "-a.b"}
	groups := []string{base + ".g.x", base + ".g_x", base + ".g-x"}
	pub := openPub(t, target)
	chans := map[[2]string]<-chan *message.Message{}
	for _, topic := range topics {
		for _, g := range groups {
			chans[[2]string{topic, g}] = subscribe(t, openSub(t, withQuery(target, "group="+g)), topic)
		}
	}
	for _, topic := range topics {
		m := herald.NewMessage([]byte(topic))
		publish(t, pub, topic, m)
	}
	for k, ch := range chans {
		got := receive(t, ch, 1, 30*time.Second)[0]
		if string(got.Payload) != k[0] {
			t.Errorf("group %q on topic %q got the message of topic %q", k[1], k[0], got.Payload)
		}
	}
	for k, ch := range chans {
		none(t, ch, 200*time.Millisecond)
		_ = k
	}
	err := pub.Publish(base+"/a", herald.NewMessage([]byte("x")))
	if err == nil || !strings.Contains(err.Error(), "not a valid Kafka topic name") {
		t.Errorf("publish to an invalid topic name: %v; want it explained", err)
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
		"tls":                {target + "?tls=true", "does not use TLS"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := adapters.OpenPublisher(ctx, c.url)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("open with %s against a plaintext listener: %v; want it to say it %s", name, err, c.want)
			}
			if errors.Is(err, herald.ErrUnreachable) || strings.Contains(err.Error(), ":p@") {
				t.Errorf("error %q: not an unreachable broker, and no password", err)
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
	_, err := adapters.OpenPublisher(ctx, "kafka://"+tlsListener(t))
	if err == nil || !strings.Contains(err.Error(), "answers with TLS: add tls=true") {
		t.Fatalf("plaintext to a TLS listener: %v; want it to say so", err)
	}
}
