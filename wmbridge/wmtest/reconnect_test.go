//go:build unix

package wmtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/tcpproxy"
	"github.com/heraldkit/herald/wmbridge"
)

// outage is how long a cut keeps the proxy down: the broker "restarting".
const outage = time.Second

// viaProxy returns target (an amqp:// URL) through a TCP proxy of the
// test's own, and the proxy; cutting it is what a broker restart does to
// its clients, without touching the shared broker.
func viaProxy(t *testing.T, target string) (string, *tcpproxy.Proxy) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p, err := tcpproxy.Listen("127.0.0.1:0", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	u.Host = p.Addr()
	return u.String(), p
}

// cut closes every connection through p and refuses new ones for outage.
func cut(p *tcpproxy.Proxy) {
	p.Down()
	time.AfterFunc(outage, p.Up)
}

// TestReconnectAMQP runs the universal suite's TestReconnect on RabbitMQ
// through wmbridge, on demand (HERALD_TEST_WM_RECONNECT=1): 100
// publishers send 10000 messages, retrying a Publish that returned an
// error, while the connections of publisher and subscriber are cut twice
// (at 1/3 and 1/2 of the messages: the suite's RestartServiceCommand
// signals this process, which cuts its proxy to the broker for a second);
// the set received (duplicates removed) must be exactly the set whose
// Publish returned nil.
//
// It is not run by default because the suite's assertion cannot pass
// reliably on a broker that delivers a message before its publisher has
// the confirm, as RabbitMQ does: the suite takes the set sent the moment
// the 10000th distinct message arrives, while the publishers of the last
// ones may not have recorded their nil yet: the suite reads its
// publishedMessages (test_pubsub.go:1120) while its collecting goroutine
// still appends to it (:1086), which -race reports as a data race in
// watermill v1.5.1's own code. Measured here: 2 of 3 runs failed with
// "received: 10000, sent: 9999", and the extra message was never one
// whose Publish had returned an error (the suite logs every error with
// the message's UUID). Nothing was lost and nothing was invented.
//
// The suite also cannot tell "maybe stored" from "not stored": a Publish
// cut before its confirm returns herald.ErrOutcomeUnknown, the broker
// may have stored the message, and the suite retries it; a stored copy
// received before the retry returned nil would be counted "extra" too.
// What each error means is checked by TestOutcomeUnknownMaybeStoredAMQP.
func TestReconnectAMQP(t *testing.T) {
	amqp := brokerURL(t, "HERALD_TEST_AMQP")
	if os.Getenv("HERALD_TEST_WM_RECONNECT") != "1" {
		t.Skip("the suite's TestReconnect races with itself on RabbitMQ (see the doc comment): HERALD_TEST_WM_RECONNECT=1 runs it")
	}
	target, proxy := viaProxy(t, amqp)
	b := lookup(t, target)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	done := make(chan struct{})
	t.Cleanup(func() { signal.Stop(sig); close(done) })
	go func() {
		for {
			select {
			case <-sig:
				cut(proxy)
			case <-done:
				return
			}
		}
	}()
	f := Features(b.caps)
	f.RestartServiceCommand = []string{"kill", "-USR1", fmt.Sprint(os.Getpid())}
	group := "wm-reconnect-" + watermill.NewShortUUID()
	tests.TestReconnect(t, tests.TestContext{TestID: tests.NewTestID(), Features: f}, func(t *testing.T) (message.Publisher, message.Subscriber) {
		return b.open(t, group, wmbridge.WithPublishTimeout(5*time.Second))
	})
}

// TestOutcomeUnknownMaybeStoredAMQP: each Publish's error says what
// happened to its message (issue 14, item 12). 20 publishers send 2000
// messages once each, with a publish timeout of half the outage, through
// a proxy that is cut 3 times; a subscriber
// of a durable group, connected directly, reads them. Then:
//
//   - every message whose Publish returned nil is received;
//   - no message whose Publish returned herald.ErrUnreachable (never
//     written) is received;
//   - a message whose Publish returned herald.ErrOutcomeUnknown (written,
//     not confirmed) may be received or not: both are counted;
//   - every error is one of those two kinds.
func TestOutcomeUnknownMaybeStoredAMQP(t *testing.T) {
	t.Parallel()
	direct := brokerURL(t, "HERALD_TEST_AMQP")
	target, proxy := viaProxy(t, direct)
	group := "wm-outcome-" + watermill.NewShortUUID()
	topic := "outcome-" + watermill.NewShortUUID()
	_, sub := lookup(t, direct).open(t, group)
	if err := sub.SubscribeInitialize(topic); err != nil {
		t.Fatal(err)
	}
	// A publish timeout shorter than the outage: messages sent while the
	// proxy is down fail unwritten (ErrUnreachable), those written before
	// a cut and not confirmed fail with ErrOutcomeUnknown.
	pub, _ := lookup(t, target).open(t, "", wmbridge.WithPublishTimeout(outage/2))

	const publishers, perPublisher = 20, 100
	var (
		mu      sync.Mutex
		results = map[string]error{} // UUID: Publish's result
		wg      sync.WaitGroup
		sent    = make(chan struct{}, publishers*perPublisher)
	)
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perPublisher {
				m := message.NewMessage(fmt.Sprintf("m-%d-%d-%s", p, i, watermill.NewShortUUID()), []byte("x"))
				err := pub.Publish(topic, m)
				mu.Lock()
				results[m.UUID] = err
				mu.Unlock()
				sent <- struct{}{}
			}
		}()
	}
	go func() { // cut after 1/4, 1/2 and 3/4 of the messages
		for n := 1; n <= publishers*perPublisher; n++ {
			<-sent
			if n%(publishers*perPublisher/4) == 0 && n < publishers*perPublisher {
				cut(proxy)
			}
		}
	}()
	wg.Wait()
	// A last message, confirmed: once it is read, every message stored
	// before it was read too (one queue, one consumer, nothing requeued).
	last := message.NewMessage("last-"+watermill.NewShortUUID(), []byte("x"))
	deadline := time.Now().Add(30 * time.Second)
	for pub.Publish(topic, last) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the last message could not be published within 30s of the cuts")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	msgs, err := sub.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	received := map[string]bool{}
	for m := range msgs {
		m.Ack()
		if m.UUID == last.UUID {
			break
		}
		received[m.UUID] = true
	}
	if ctx.Err() != nil {
		t.Fatal("the last message did not arrive within 60s")
	}

	var ok, unknown, unknownStored, unreachable int
	for id, err := range results {
		switch {
		case err == nil:
			ok++
			if !received[id] {
				t.Errorf("message %s: Publish returned nil but it was not received", id)
			}
		case errors.Is(err, herald.ErrOutcomeUnknown):
			unknown++
			if received[id] {
				unknownStored++
			}
		case errors.Is(err, herald.ErrUnreachable):
			unreachable++
			if received[id] {
				t.Errorf("message %s: Publish returned %v (never written) but it was received", id, err)
			}
		default:
			t.Errorf("message %s: Publish returned %v, neither ErrOutcomeUnknown nor ErrUnreachable", id, err)
		}
	}
	t.Logf("%d published: %d confirmed, %d outcome unknown (%d of them stored), %d unreachable", len(results), ok, unknown, unknownStored, unreachable)
	if unknown+unreachable == 0 {
		t.Error("no Publish failed: the cuts did not reach the publishes, nothing was tested")
	}
}
