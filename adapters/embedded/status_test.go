package embedded_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/adaptertest"
)

// A group consumer deleted while subscribed is reported lost (warn log,
// ReportStatus with ErrSubscriptionLost naming the cause), created again,
// reported recovered (info log, ReportStatus nil), and consuming resumes.
func TestConsumerDeletedIsReportedAndRecovered(t *testing.T) {
	u := target(t.TempDir(), "group=g")
	sink := &adaptertest.LogSink{}
	lctx := adapters.ContextWithLogger(context.Background(), slog.New(sink))
	sub, err := adapters.OpenSubscriber(lctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	tp := topic()
	status := adaptertest.NewStatusLog()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := sub.Subscribe(status.Context(ctx), tp)
	if err != nil {
		t.Fatal(err)
	}
	pub := openPub(t, u)
	publishN(t, pub, tp, 1, "before")
	receive(t, ch, 1, 10*time.Second)

	var js jetstream.JetStream
	if !pub.(interface{ As(any) bool }).As(&js) {
		t.Fatal("As(*jetstream.JetStream) failed")
	}
	stream, err := js.StreamNameBySubject(context.Background(), tp)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteConsumer(context.Background(), stream, "g"); err != nil {
		t.Fatal(err)
	}

	lost := status.Next(t, 10*time.Second)
	if !errors.Is(lost, herald.ErrSubscriptionLost) || !strings.Contains(lost.Error(), tp) {
		t.Fatalf("first report %v, want an error wrapping ErrSubscriptionLost naming the topic", lost)
	}
	if !errors.Is(lost, jetstream.ErrConsumerDeleted) {
		t.Errorf("report %v does not carry the cause (consumer deleted)", lost)
	}
	for {
		err := status.Next(t, 10*time.Second)
		if err == nil {
			break
		}
		if !errors.Is(err, herald.ErrSubscriptionLost) {
			t.Fatalf("report %v", err)
		}
	}
	if n := sink.Count(slog.LevelWarn, "subscription lost", tp, "consumer deleted"); n != 1 {
		t.Errorf("%d warn lines for the lost subscription, want 1:\n%s", n, sink)
	}
	if n := sink.Count(slog.LevelInfo, "receives again", tp); n != 1 {
		t.Errorf("%d info lines for the recovery, want 1:\n%s", n, sink)
	}
	// The new consumer starts again with every retained message (the
	// group's position went with the deleted consumer), then gets the new
	// ones.
	want := publishN(t, pub, tp, 2, "after")
	if got := receive(t, ch, 3, 10*time.Second); !equal(got[1:], want) {
		t.Errorf("after the recovery got %v, want the first message again then %v", got, want)
	}
}

// A stream deleted while subscribed, which cannot be created again
// (provision=false), is one outage: one warn line, reports with the
// latest cause at growing intervals (no spinning), and the recovery once
// the stream is back.
func TestStreamDeletedRetriesWithBackoff(t *testing.T) {
	dir := t.TempDir()
	tp := topic()
	// Create the stream, then subscribe without provisioning.
	if err := openPub(t, target(dir, "")).Publish(tp, herald.NewMessage([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	u := target(dir, "group=g&provision=false")
	sink := &adaptertest.LogSink{}
	sub, err := adapters.OpenSubscriber(adapters.ContextWithLogger(context.Background(), slog.New(sink)), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	status := adaptertest.NewStatusLog()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := sub.Subscribe(status.Context(ctx), tp)
	if err != nil {
		t.Fatal(err)
	}
	receive(t, ch, 1, 10*time.Second)

	var js jetstream.JetStream
	if !sub.(interface{ As(any) bool }).As(&js) {
		t.Fatal("As(*jetstream.JetStream) failed")
	}
	stream, err := js.StreamNameBySubject(context.Background(), tp)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	if err := js.DeleteStream(context.Background(), stream); err != nil {
		t.Fatal(err)
	}
	if err := status.Next(t, 10*time.Second); !errors.Is(err, herald.ErrSubscriptionLost) {
		t.Fatalf("report %v, want ErrSubscriptionLost", err)
	}
	// Nothing to wait on: count the reports over a window (backoff bounds them).
	time.Sleep(1500 * time.Millisecond)
	reports := 0
	for len(status.C) > 0 {
		err := <-status.C
		reports++
		if !errors.Is(err, herald.ErrSubscriptionLost) {
			t.Fatalf("report %v while the stream is gone", err)
		}
	}
	if reports > 3 {
		t.Errorf("%d reports in 1.5s while the stream is gone: they should only follow a change of cause", reports)
	}
	if n := sink.Count(slog.LevelWarn, "subscription lost", tp); n != 1 {
		t.Errorf("%d warn lines for one outage, want 1:\n%s", n, sink)
	}
	if n := sink.Count(slog.LevelDebug, "still lost", "provision=false"); n != 1 {
		t.Errorf("%d debug lines naming the re-creation failure, want 1:\n%s", n, sink)
	}
	if _, err := js.CreateStream(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for {
		err := status.Next(t, 40*time.Second)
		if err == nil {
			break
		}
	}
	if n := sink.Count(slog.LevelInfo, "receives again", tp); n != 1 {
		t.Errorf("%d info lines for the recovery, want 1:\n%s", n, sink)
	}
}
