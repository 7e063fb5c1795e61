package natsxtest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// SendAtOne sends m for delivery at at and waits for its answer.
func SendAtOne(t testing.TB, tp adapters.Topic, topic string, m *herald.Message, at time.Time) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch := make(chan error, 1)
	if err := tp.Send(ctx, topic, m, adapters.SendOptions{At: at}, func(err error) { ch <- err }); err != nil {
		return err
	}
	return <-ch
}

// DelayOnExistingStream: the first delayed message to a topic whose
// stream was created before (without message schedules) enables them on
// that stream (allow_msg_schedules, the schedule subjects) and is
// delivered at its time, not before, on the group's existing consumer; a
// new process's subscription of that group finds the same consumer (the
// stream is still the topic's own: consumer names do not change). With
// provision=false, a stream without schedules is refused, naming
// allow_msg_schedules, and nothing is sent.
func DelayOnExistingStream(t *testing.T, f Fixture) {
	topic := f.Topic(t)
	tp := f.OpenTopic(t, "")
	MustPublish(t, tp, topic, Numbered(1)...)
	var js jetstream.JetStream
	if !tp.As(&js) {
		t.Fatal("As(*jetstream.JetStream) = false")
	}
	ctx := context.Background()
	name, err := js.StreamNameBySubject(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
	consumers := func() []string {
		var out []string
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		l := st.ConsumerNames(ctx)
		for n := range l.Name() {
			out = append(out, n)
		}
		slices.Sort(out)
		return out
	}
	sub := f.OpenSubscription(t, "delay-g", "")
	if err := sub.Prepare(ctx, topic); err != nil {
		t.Fatal(err)
	}
	st := OpenStream(t, sub, topic, 8, func(error) {})
	first := ReceiveN(t, st, 1, 10*time.Second)
	st.Ack(first[0].Token)
	before := consumers()
	if info, _ := js.Stream(ctx, name); info.CachedInfo().Config.AllowMsgSchedules {
		t.Fatal("the stream allows message schedules before any delayed message")
	}

	m := herald.NewMessage([]byte("delayed"))
	at := time.Now().Add(1500 * time.Millisecond)
	if err := SendAtOne(t, tp, topic, m, at); err != nil {
		t.Fatalf("delayed Send: %v", err)
	}
	info, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.CachedInfo().Config
	if !cfg.AllowMsgSchedules || !slices.Contains(cfg.Subjects, "_herald_delay."+topic+".*") {
		t.Fatalf("after SendAt: allow_msg_schedules %v, subjects %v", cfg.AllowMsgSchedules, cfg.Subjects)
	}
	got := ReceiveN(t, st, 1, 10*time.Second)
	if now := time.Now(); now.Before(at) {
		t.Errorf("delivered %v before its time", at.Sub(now))
	}
	if got[0].Msg.UUID != m.UUID || string(got[0].Msg.Payload) != "delayed" {
		t.Errorf("delivered %q (%s); want %q (%s)", got[0].Msg.Payload, got[0].Msg.UUID, "delayed", m.UUID)
	}
	for k := range got[0].Msg.Metadata {
		if strings.HasPrefix(k, "Nats-Schedule") || k == "Nats-Scheduler" {
			t.Errorf("the delivered message carries the server's header %s", k)
		}
	}
	st.Ack(got[0].Token)

	// A new process: its provisioner finds the stream anew.
	sub2 := f.OpenSubscription(t, "delay-g", "")
	if err := sub2.Prepare(ctx, topic); err != nil {
		t.Fatal(err)
	}
	OpenStream(t, sub2, topic, 8, func(error) {})
	if after := consumers(); !slices.Equal(before, after) {
		t.Errorf("consumers %v after enabling schedules; before %v (the group's consumer name changed)", after, before)
	}

	// provision=false on a stream without schedules.
	other := f.Topic(t)
	MustPublish(t, tp, other, Numbered(1)...)
	if n, err := js.StreamNameBySubject(ctx, other); err == nil {
		t.Cleanup(func() { _ = js.DeleteStream(context.Background(), n) })
	}
	fixed := f.OpenTopic(t, "provision=false")
	err = SendAtOne(t, fixed, other, herald.NewMessage([]byte("refused")), time.Now().Add(time.Minute))
	var he *herald.Error
	if !errors.As(err, &he) || he.Kind != herald.KindInvalid || !strings.Contains(err.Error(), "allow_msg_schedules") {
		t.Errorf("SendAt with provision=false on a stream without schedules: %v; want KindInvalid naming allow_msg_schedules", err)
	}
}

// DelayOnInterestStream: a delayed message to a topic whose existing
// stream has interest retention is either refused (KindInvalid) or
// delivered at its time. Such a stream keeps a message only while a
// consumer is interested in its subject; no consumer filters on a
// schedule subject, so the server acks the schedule and drops it at
// once: a publish reported stored that is never delivered.
func DelayOnInterestStream(t *testing.T, f Fixture) {
	topic := f.Topic(t)
	tp := f.OpenTopic(t, "")
	var js jetstream.JetStream
	if !tp.As(&js) {
		t.Fatal("As(*jetstream.JetStream) = false")
	}
	ctx := context.Background()
	name := "INTEREST_" + strings.NewReplacer(".", "_", "-", "_").Replace(topic)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{topic},
		Retention: jetstream.InterestPolicy, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
	sub := f.OpenSubscription(t, "delay-interest", "")
	if err := sub.Prepare(ctx, topic); err != nil {
		t.Fatal(err)
	}
	st := OpenStream(t, sub, topic, 8, func(error) {})
	MustPublish(t, tp, topic, Numbered(1)...) // the group's consumer is interested in the topic
	st.Ack(ReceiveN(t, st, 1, 10*time.Second)[0].Token)

	m := herald.NewMessage([]byte("delayed"))
	at := time.Now().Add(1500 * time.Millisecond)
	err := SendAtOne(t, tp, topic, m, at)
	var he *herald.Error
	switch {
	case errors.As(err, &he) && he.Kind == herald.KindInvalid:
		if !strings.Contains(err.Error(), "interest") {
			t.Errorf("refused without naming the retention: %v", err)
		}
		return
	case err != nil:
		t.Fatalf("SendAt: %v; want nil or KindInvalid", err)
	}
	got := ReceiveN(t, st, 1, 10*time.Second) // fails: acked, never delivered
	if got[0].Msg.UUID != m.UUID {
		t.Errorf("delivered %s; want %s", got[0].Msg.UUID, m.UUID)
	}
}

// DelayAfterStreamRecreated: a topic's stream deleted after its first
// delayed message and made again by a plain publish (without message
// schedules) takes delayed messages again: the next SendAt enables
// schedules on the new stream, rather than trusting what it learnt of
// the old one and failing (or losing the message) until the process
// restarts.
func DelayAfterStreamRecreated(t *testing.T, f Fixture) {
	topic := f.Topic(t)
	tp := f.OpenTopic(t, "")
	var js jetstream.JetStream
	if !tp.As(&js) {
		t.Fatal("As(*jetstream.JetStream) = false")
	}
	ctx := context.Background()
	sub := f.OpenSubscription(t, "delay-recreated", "")
	if err := SendAtOne(t, tp, topic, herald.NewMessage([]byte("first")), time.Now().Add(time.Second)); err != nil {
		t.Fatalf("delayed Send: %v", err)
	}
	name, err := js.StreamNameBySubject(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(ctx, name); err != nil {
		t.Fatal(err)
	}
	MustPublish(t, tp, topic, Numbered(1)...) // makes the stream again
	if n, err := js.StreamNameBySubject(ctx, topic); err == nil {
		t.Cleanup(func() { _ = js.DeleteStream(context.Background(), n) })
	}
	if err := sub.Prepare(ctx, topic); err != nil {
		t.Fatal(err)
	}
	st := OpenStream(t, sub, topic, 8, func(error) {})
	st.Ack(ReceiveN(t, st, 1, 10*time.Second)[0].Token)
	m := herald.NewMessage([]byte("delayed"))
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	if err := tp.Send(sctx, topic, m, adapters.SendOptions{At: time.Now().Add(time.Second)}, func(err error) { done <- err }); err != nil {
		t.Fatalf("SendAt on the new stream: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("SendAt on the new stream: %v", err)
	}
	got := ReceiveN(t, st, 1, 10*time.Second)
	if got[0].Msg.UUID != m.UUID {
		t.Errorf("delivered %s; want %s", got[0].Msg.UUID, m.UUID)
	}
}
