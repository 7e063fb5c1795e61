package rabbitmq

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
)

// TestConfigClusterHosts: several hosts are the nodes of a cluster, each
// with the default port when it has none; the group queue type defaults
// to quorum on a cluster, classic on one host, and stays what is asked.
func TestConfigClusterHosts(t *testing.T) {
	for _, tc := range []struct {
		target, queueType string
		hosts             []string
	}{
		{"amqp://u:" + secretPassword + "@r1,r2:5673,[::1]/?group=g", "quorum", []string{"r1:5672", "r2:5673", "[::1]:5672"}},
		{"amqps://u:p@r1,r2/?group=g", "quorum", []string{"r1:5671", "r2:5671"}},
		{"amqp://u:p@r1,r2/?group=g&queue_type=classic", "classic", []string{"r1:5672", "r2:5672"}},
		{"amqp://u:p@r1,r2/", "classic", []string{"r1:5672", "r2:5672"}}, // private queues are always classic
		{"amqp://u:p@r1/?group=g", "classic", []string{"r1:5672"}},
		{"amqp://u:p@r1/?group=g&queue_type=quorum", "quorum", []string{"r1:5672"}},
	} {
		s, err := parse(mustParseURL(t, tc.target))
		if err != nil {
			t.Errorf("%s: %v", tc.target, err)
			continue
		}
		if !slices.Equal(s.hosts, tc.hosts) || s.host != strings.Join(tc.hosts, ",") || s.queueType != tc.queueType {
			t.Errorf("%s: hosts %q (%q), queue type %q; want %q, %q", tc.target, s.hosts, s.host, s.queueType, tc.hosts, tc.queueType)
		}
		if strings.Contains(s.host, secretPassword) || strings.Contains(s.uri, secretPassword) {
			t.Errorf("%s: the password is in host %q or uri %q", tc.target, s.host, s.uri)
		}
	}
	// amqps to a cluster verifies each node against its own name, unless
	// tls_server_name names one for all.
	s, err := parse(mustParseURL(t, "amqps://u:p@r1,r2/"))
	if err != nil || s.tls.For(s.hosts[0]).ServerName != "r1" || s.tls.For(s.hosts[1]).ServerName != "r2" {
		t.Errorf("amqps to two hosts: not verified per host (%v)", err)
	}
	s, err = parse(mustParseURL(t, "amqps://u:p@r1,r2/?tls_server_name=rmq.internal"))
	if err != nil || s.tls.For(s.hosts[0]).ServerName != "rmq.internal" || s.tls.For(s.hosts[1]).ServerName != "rmq.internal" {
		t.Errorf("tls_server_name: not one name for all (%v)", err)
	}
}

// closedAddr is a 127.0.0.1 address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestDialClusterHosts: with several hosts the connection goes to the
// first that answers; when none does, the error names every host's
// failure and wraps herald.ErrUnreachable.
func TestDialClusterHosts(t *testing.T) {
	dead1, dead2 := closedAddr(t), closedAddr(t)
	s, err := parse(mustParseURL(t, "amqp://u:"+secretPassword+"@"+dead1+","+dead2+"/?connect_timeout=2s"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = dialFrom(context.Background(), s, 0)
	if err == nil || !errors.Is(err, herald.ErrUnreachable) || !strings.Contains(err.Error(), dead1+": ") || !strings.Contains(err.Error(), dead2+": ") {
		t.Fatalf("dial of two dead hosts: %v; want an error naming both, wrapping ErrUnreachable", err)
	}
	if strings.Contains(err.Error(), secretPassword) {
		t.Fatalf("error leaks the password: %v", err)
	}

	url := brokerURL(t)
	cfg, err := herald.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	live, err := parseHosts(cfg.Hosts, cfg.Scheme)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Hosts = []string{dead1, live[0]}
	s, err = parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn, idx, err := dialFrom(context.Background(), s, 0)
	if err != nil {
		t.Fatalf("dial %s,%s: %v", dead1, live[0], err)
	}
	defer conn.Close()
	if idx != 1 {
		t.Errorf("connected to host %d, want 1 (%s)", idx, live[0])
	}
}

// TestReconnectNextHost: after the connection to one node is lost, the
// connection redials the next host first and carries on there, without
// the caller doing anything.
func TestReconnectNextHost(t *testing.T) {
	url := brokerURL(t)
	cfg, err := herald.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	live, err := parseHosts(cfg.Hosts, cfg.Scheme)
	if err != nil {
		t.Fatal(err)
	}
	a, b := newProxy(t, live[0]), newProxy(t, live[0])
	cfg.Hosts = []string{a.Addr(), b.Addr()}
	s, err := parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env, _ := testEnv()
	c, err := dial(ctx, s, env.Logger)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first, err := c.get()
	if err != nil {
		t.Fatal(err)
	}
	// Node a goes away for good (refuses connections): the connection
	// must come back through b.
	a.Down()
	for {
		c.mu.Lock()
		conn, changed := c.conn, c.changed
		c.mu.Unlock()
		if conn != nil && conn != first && !conn.IsClosed() {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatal("the connection through a was never replaced")
		}
	}
	c.mu.Lock()
	idx := c.hostIdx
	c.mu.Unlock()
	if idx != 1 {
		t.Fatalf("reconnected to host %d, want 1 (%s)", idx, b.Addr())
	}
	conn, err := c.get()
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("channel on the new connection: %v", err)
	}
	_ = ch.Close()
}

// TestPublishNackedByBroker: Send sends a nacked message again (a quorum
// queue nacks while it elects a leader) but a nack that lasts (a queue at
// its length limit with overflow=reject-publish) fails that message with
// the broker's refusal, after the retries (~1.3 s), not with a timeout;
// the next message still goes out (on a new channel), and the messages
// before it are confirmed.
func TestPublishNackedByBroker(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	queue := topic + ".limited"
	t.Cleanup(func() { deleteTopology(t, topic, queue) })
	raw := rawChannel(t)
	if err := raw.ExchangeDeclare(topic, exchangeType, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.QueueDeclare(queue, false, false, false, false, amqp.Table{"x-max-length": int32(1), "x-overflow": "reject-publish"}); err != nil {
		t.Fatal(err)
	}
	if err := raw.QueueBind(queue, "", topic, false, nil); err != nil {
		t.Fatal(err)
	}
	tp := openTopicT(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sendWait(t, tp, ctx, topic, newMsg("fits")); err != nil {
		t.Fatalf("first publish: %v", err)
	}
	over := newMsg("over the limit")
	start := time.Now()
	err := sendWait(t, tp, ctx, topic, over)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "refused message "+over.UUID) || errors.Is(err, herald.ErrUnreachable) ||
		!strings.HasPrefix(err.Error(), `herald/amqp: publish to "`+topic+`"`) {
		t.Fatalf("publish over the limit: %v; want the broker's refusal of %s", err, over.UUID)
	}
	if took < time.Second || took > 10*time.Second {
		t.Errorf("the refusal came after %v; want the retries' ~1.3 s", took)
	}
	if _, err := raw.QueuePurge(queue, false); err != nil {
		t.Fatal(err)
	}
	if err := sendWait(t, tp, ctx, topic, newMsg("fits again")); err != nil {
		t.Fatalf("publish after the purge: %v", err)
	}
}

// TestPublishNackResentWithinCtx: a nacked message is sent again only
// within its Send's ctx: when the ctx ends first, done reports the
// refusal (nothing was stored) without waiting for the retries.
func TestPublishNackResentWithinCtx(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	queue := topic + ".full"
	t.Cleanup(func() { deleteTopology(t, topic, queue) })
	raw := rawChannel(t)
	if err := raw.ExchangeDeclare(topic, exchangeType, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.QueueDeclare(queue, false, false, false, false, amqp.Table{"x-max-length": int32(0), "x-overflow": "reject-publish"}); err != nil {
		t.Fatal(err)
	}
	if err := raw.QueueBind(queue, "", topic, false, nil); err != nil {
		t.Fatal(err)
	}
	tp := openTopicT(t, url)
	// The resends wait 20, 40, 80, 160, 320 ms... from the first nack
	// (ends at about 20, 60, 140, 300, 620 ms): a ctx of 450 ms ends
	// inside the 320 ms wait, far from a resend awaiting its confirm
	// (whose outcome at the deadline is rightly unknown). 150 ms ended
	// 10 ms after the third resend and made the verdict a race.
	ctx, cancel := context.WithTimeout(context.Background(), 450*time.Millisecond)
	defer cancel()
	m := newMsg("never fits")
	start := time.Now()
	err := sendWait(t, tp, ctx, topic, m)
	if took := time.Since(start); took > time.Second {
		t.Errorf("done after %v; want soon after the 450ms ctx", took)
	}
	if err == nil || !strings.Contains(err.Error(), "refused message "+m.UUID) || errors.Is(err, herald.ErrOutcomeUnknown) {
		t.Errorf("done: %v; want the refusal, not an unknown outcome", err)
	}
}
