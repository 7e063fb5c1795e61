package rabbitmq

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/adaptertest"
)

// logBuffer is a goroutine-safe slog sink for tests.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// loggingCtx returns a context carrying a logger that writes to the
// returned buffer, at debug level.
func loggingCtx(t *testing.T) (context.Context, *logBuffer) {
	b := &logBuffer{}
	l := slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return adapters.ContextWithLogger(t.Context(), l), b
}

// TestQueueDeletedIsReported: deleting a group's queue under its
// subscriber is logged at warn level and reported as a lost
// subscription; the subscriber declares the queue again, reports the
// recovery and receives again.
func TestQueueDeletedIsReported(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	queue := queueName(topic, "del", "")
	t.Cleanup(func() { deleteTopology(t, topic, queue) })
	openCtx, logs := loggingCtx(t)
	sub, err := adapters.OpenSubscriber(openCtx, withQuery(url, "group=del"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	rec := adaptertest.NewStatusLog()
	ch, err := sub.Subscribe(rec.Context(t.Context()), topic)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rawChannel(t).QueueDelete(queue, false, false, false); err != nil {
		t.Fatal(err)
	}
	err = rec.Next(t, 10*time.Second)
	if !errors.Is(err, herald.ErrSubscriptionLost) || !strings.Contains(err.Error(), "deleted") ||
		!strings.Contains(err.Error(), `herald/amqp: subscribe to "`+topic+`"`) {
		t.Fatalf("report %v; want herald.ErrSubscriptionLost naming the topic and the deleted queue", err)
	}
	line := logs.String()
	if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "lost") || !strings.Contains(line, "deleted") {
		t.Errorf("log %q; want a warn line with the cause", line)
	}
	for err != nil {
		err = rec.Next(t, 10*time.Second)
	}
	if err := openPub(t, url).Publish(topic, newMsg("after")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, ch, 10*time.Second); string(m.Payload) != "after" {
		t.Errorf("got %q", m.Payload)
	} else {
		m.Ack()
	}
	if strings.Count(logs.String(), "level=WARN") != 1 {
		t.Errorf("want one warn line for the outage, got:\n%s", logs.String())
	}
}

// TestConnectionLossIsReported: a dropped connection is logged and
// reported as a lost subscription, then as recovered.
func TestConnectionLossIsReported(t *testing.T) {
	target, proxy := viaProxy(t)
	topic := freshTopic(t)
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "loss", "")) })
	openCtx, logs := loggingCtx(t)
	sub, err := adapters.OpenSubscriber(openCtx, withQuery(target, "group=loss"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	rec := adaptertest.NewStatusLog()
	if _, err := sub.Subscribe(rec.Context(t.Context()), topic); err != nil {
		t.Fatal(err)
	}
	proxy.Down()
	if err := rec.Next(t, 10*time.Second); !errors.Is(err, herald.ErrSubscriptionLost) {
		t.Fatalf("report %v; want herald.ErrSubscriptionLost", err)
	}
	proxy.Up()
	for {
		if err := rec.Next(t, 20*time.Second); err == nil {
			break
		}
	}
	out := logs.String()
	for _, want := range []string{"level=WARN", "connection to", "lost", "level=INFO", "receiving again"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
