package kafka_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/adaptertest"
)

// waitStatus waits until sl's latest report satisfies ok.
func waitStatus(t *testing.T, sl *statusLog, what string, d time.Duration, ok func(error) bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		if r := sl.all(); len(r) > 0 && ok(r[len(r)-1]) {
			return
		}
		select {
		case <-sl.changed:
		case <-deadline:
			t.Fatalf("no status report %s within %v; reports: %v", what, d, sl.all())
		}
	}
}

// TestBrokerDown kills a private broker under a publisher and a group
// member, then starts it again: a publish while it is down waits until its
// context ends and then fails with ErrUnreachable and the context's error;
// the subscription reports itself lost (ErrSubscriptionLost), logs that
// once at warn level, and reports and logs its recovery; a publish made
// while the broker is down succeeds once it is back.
func TestBrokerDown(t *testing.T) {
	t.Parallel()
	b := startPrivateBroker(t)
	logs := &logCapture{}
	openCtx := adapters.ContextWithLogger(context.Background(), slog.New(logs))
	topic, group := uniqueName("down"), uniqueName("g")
	pub, err := adapters.OpenPublisher(openCtx, b.url())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	sub, err := adapters.OpenSubscriber(openCtx, b.url()+"?group="+group+"&session_timeout=6s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	status := newStatusLog()
	subCtx, cancel := context.WithCancel(adapters.ContextWithStatus(context.Background(), status.report))
	defer cancel()
	ch, err := sub.Subscribe(subCtx, topic)
	if err != nil {
		t.Fatal(err)
	}
	cp := pub.(adapters.ContextPublisher)
	publish(t, pub, topic, herald.NewMessage([]byte("before")))
	receive(t, ch, 1, 30*time.Second)

	b.kill()
	// Concurrent publishes while the broker is down: each waits for its
	// context, then fails with ErrUnreachable and the context's error, and
	// leaves no goroutine behind.
	const calls = 20
	ctx, cancelPub := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancelPub()
	start := time.Now()
	errs := make(chan error, calls)
	for i := 0; i < calls; i++ {
		go func() { errs <- cp.PublishContext(ctx, topic, herald.NewMessage([]byte("lost"))) }()
	}
	for i := 0; i < calls; i++ {
		err := <-errs
		if !errors.Is(err, herald.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("publish while the broker is down: %v; want ErrUnreachable and DeadlineExceeded", err)
		}
		if !strings.Contains(err.Error(), `herald/kafka: publish to "`+topic+`"`) {
			t.Errorf("error %q does not name the backend, operation and topic", err)
		}
	}
	if took := time.Since(start); took < 2500*time.Millisecond || took > 5*time.Second {
		t.Errorf("publishes while the broker is down returned after %v; want about their 3s context", took)
	}
	if n := publisherGoroutines(); n != 0 {
		t.Errorf("%d goroutines still in the publisher after %d timed-out publishes returned", n, calls)
	}
	waitStatus(t, status, "wrapping ErrSubscriptionLost", 30*time.Second, func(err error) bool {
		return errors.Is(err, herald.ErrSubscriptionLost) && strings.Contains(err.Error(), topic)
	})
	if n := logs.count(slog.LevelWarn, "subscription lost"); n != 1 {
		t.Errorf("%d warn lines \"subscription lost\"; want 1 per outage. Log:\n%s", n, logs)
	}

	// A publish made while the broker is down waits for it.
	waiting := make(chan error, 1)
	late := herald.NewMessage([]byte("late"))
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		waiting <- cp.PublishContext(ctx, topic, late)
	}()
	b.start()
	select {
	case err := <-waiting:
		if err != nil {
			t.Fatalf("publish across the restart: %v", err)
		}
	case <-time.After(70 * time.Second):
		t.Fatal("publish across the restart did not return")
	}
	waitStatus(t, status, "nil (recovered)", 60*time.Second, func(err error) bool { return err == nil })
	got := receiveUntil(t, ch, late.UUID, 60*time.Second)
	if got == nil {
		t.Fatal("the message published across the restart was not delivered")
	}
	if n := logs.count(slog.LevelWarn, "subscription lost"); n != 1 {
		t.Errorf("%d warn lines \"subscription lost\"; want 1 per outage. Log:\n%s", n, logs)
	}
	if logs.count(slog.LevelInfo, "subscription recovered") != 1 {
		t.Errorf("no info line \"subscription recovered\". Log:\n%s", logs)
	}
}

// receiveUntil acks messages from ch until the one with id arrives.
func receiveUntil(t *testing.T, ch <-chan *message.Message, id string, d time.Duration) *message.Message {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatal("channel closed")
			}
			m.Ack()
			if m.UUID == id {
				return m
			}
		case <-timeout:
			return nil
		}
	}
}

// TestTopicDeletedReported: deleting the topic under a subscription
// (group member or private consumer) reports it lost, wrapping
// ErrSubscriptionLost, and logs that at warn level.
func TestTopicDeletedReported(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	for _, c := range []struct{ group, mode string }{{"", "Subscribe"}, {uniqueName("g"), "Subscribe"}, {"", "Stream"}, {uniqueName("g"), "Stream"}} {
		group := c.group
		t.Run(c.mode+"/group="+group, func(t *testing.T) {
			t.Parallel()
			topic := uniqueName("deleted")
			logs := &logCapture{}
			openCtx := adapters.ContextWithLogger(context.Background(), slog.New(logs))
			q := ""
			if group != "" {
				q = "group=" + group
			}
			sub, err := adapters.OpenSubscriber(openCtx, withQuery(target, q))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sub.Close() })
			status := newStatusLog()
			ctx, cancel := context.WithCancel(adapters.ContextWithStatus(context.Background(), status.report))
			defer cancel()
			if c.mode == "Stream" {
				st, err := sub.(adapters.StreamSubscriber).Stream(ctx, topic, 16)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = st.Close(context.Background()) })
			} else if _, err := sub.Subscribe(ctx, topic); err != nil {
				t.Fatal(err)
			}
			admin, err := sarama.NewClusterAdminFromClient(saramaClient(t, target))
			if err != nil {
				t.Fatal(err)
			}
			if err := admin.DeleteTopic(topic); err != nil {
				t.Fatal(err)
			}
			waitStatus(t, status, "wrapping ErrSubscriptionLost", 30*time.Second, func(err error) bool {
				return errors.Is(err, herald.ErrSubscriptionLost)
			})
			if logs.count(slog.LevelWarn, "subscription lost") != 1 {
				t.Errorf("want one warn line \"subscription lost\". Log:\n%s", logs)
			}
		})
	}
}

// TestPrivateBrokerConformance runs the conformance suite, its broker
// restart included, against a private broker that it kills (SIGKILL) and
// starts again: the shared broker is not touched. It runs in the restart
// phase (HERALD_TEST_RESTART=1) since it takes about a minute.
func TestPrivateBrokerConformance(t *testing.T) {
	brokerURL(t)
	if !adaptertest.RestartEnabled() {
		t.Skip("kills and restarts a private broker (about a minute): runs with HERALD_TEST_RESTART=1 (scripts/test.sh)")
	}
	// The crash test runs this test again in a child process: the child
	// uses the parent's broker.
	const env = "HERALD_TEST_KAFKA_PRIVATE_URL"
	url := os.Getenv(env)
	var b *privateBroker
	if url == "" {
		b = startPrivateBroker(t)
		url = b.url()
		_ = os.Setenv(env, url)
		t.Cleanup(func() { _ = os.Unsetenv(env) })
	}
	adaptertest.Run(t, adaptertest.Suite{
		Target:      url,
		CrashTarget: withQuery(url, "session_timeout=6s"),
		Features: adaptertest.Features{
			Durable:       true,
			Redelivery:    true,
			OrderedPerKey: true,
		},
		Restart: func(t *testing.T) {
			if b == nil {
				t.Skip("the crash test's child process does not restart the broker")
			}
			start := time.Now()
			b.kill()
			b.start()
			t.Logf("private broker killed and started again in %v", time.Since(start).Round(100*time.Millisecond))
		},
	})
}

// publisherGoroutines counts the goroutines running the Publisher's code,
// but its one result reader.
func publisherGoroutines() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "adapters/kafka.(*Publisher)") && !strings.Contains(g, "(*Publisher).readResults") {
			n++
		}
	}
	return n
}
